/** Bundles the explorer viewer into `outdir` (default dist/explore/viewer); resolves to it. */
export function bundleViewer(outdir?: string): Promise<string>;
