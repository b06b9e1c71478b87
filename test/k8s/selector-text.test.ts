import { describe, expect, it } from 'vitest';
import { formatLabelsColumn, parseLabelSelector } from '../../src/k8s/selector-text.js';

const web = { app: 'web', env: 'dev', tier: '3' };

describe('label selectors as kubectl -l takes them', () => {
  it.each([
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app!=web', false],
    ['app=web,env=prod', false],
    ['env in (prod, dev)', true],
    ['env notin (dev)', false],
    ['canary', false],
    ['!canary', true],
    ['app', true],
    ['tier>2', true],
    ['tier<3', false],
    ['missing!=x', true],
  ])('%j matches app=web,env=dev,tier=3: %s', (text, expected) => {
    expect(parseLabelSelector(text).matches(web)).toBe(expected);
  });

  it.each(['app=web,,', 'app = we b', 'tier>x', 'a b'])(
    '%j is refused with kubectl’s leading words',
    (text) => {
      expect(() => parseLabelSelector(text)).toThrow(/^unable to parse requirement: /);
    },
  );

  it('the LABELS column sorts by key and says <none> when empty', () => {
    expect(formatLabelsColumn({ z: '1', a: '2' })).toBe('a=2,z=1');
    expect(formatLabelsColumn(undefined)).toBe('<none>');
  });
});
