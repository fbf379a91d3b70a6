// Bundles the extension with esbuild: dist/extension.cjs (Node, CommonJS, `vscode` left
// external) and dist/traceView.js (the trace viewer's webview script, for the browser).
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
  {
    ...common,
    entryPoints: ['src/webview/traceView.ts'],
    outfile: 'dist/traceView.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
];
if (watch) {
  for (const options of builds) {
    await (await esbuild.context(options)).watch();
  }
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
