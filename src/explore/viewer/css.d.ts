/** esbuild bundles imported stylesheets into explore.css; the import has no value. */
declare module '*.css';
