// Bundles the extension with esbuild: dist/extension.cjs (Node, CommonJS, `vscode` left
// external), dist/traceView.js and dist/explainView.js (the trace viewer's and the
// explanation panel's webview scripts, for the browser).
// `node build.mjs --watch` rebuilds on change.
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const common = { bundle: true, sourcemap: false, logLevel: 'warning', legalComments: 'none' };
const builds = [
  {
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.cjs',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
  ...['traceView', 'explainView'].map((name) => ({
    ...common,
    entryPoints: [`src/webview/${name}.ts`],
    outfile: `dist/${name}.js`,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  })),
];
if (watch) {
  for (const options of builds) {
    await (await esbuild.context(options)).watch();
  }
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
