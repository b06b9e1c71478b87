/**
 * WCAG 2 contrast of every visible text on a page, measured in the browser from computed
 * styles: the text's colour (SVG: its fill) against the first opaque background found up
 * its ancestors (SVG text: the fill of the shape drawn just before it in its group, else
 * the page's). Returned as the elements under `min` (4.5:1 is WCAG AA for normal text).
 *
 * Kept as source text for page.evaluate: the test files are type-checked without the DOM.
 */
export const CONTRAST_PROBE = `(min) => {
  const parse = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      if (e instanceof SVGElement && e.tagName !== 'svg') {
        const shape = e.parentElement && [...e.parentElement.children].find((c) => c.tagName === 'rect' || c.tagName === 'circle');
        if (shape && shape !== e) { const f = parse(getComputedStyle(shape).fill); if (f && f.a === 1) return f; }
        continue;
      }
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg && bg.a === 1) return bg;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const bad = [];
  const seen = new Set();
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== '');
    if (!own) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const fg = parse(el instanceof SVGElement ? style.fill : style.color);
    if (!fg) continue;
    const c = ratio(fg, background(el));
    if (c < min) {
      const key = el.tagName + '.' + el.getAttribute('class') + ':' + c.toFixed(2);
      if (!seen.has(key)) { seen.add(key); bad.push(key + ' "' + el.textContent.trim().slice(0, 30) + '"'); }
    }
  }
  return bad;
}`;
