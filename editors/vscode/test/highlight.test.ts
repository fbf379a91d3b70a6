// Unit tests of the explanation panel's code-block highlighter (src/webview/highlight.ts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { highlight, languageOf } from '../src/webview/highlight.ts';

describe('highlight', () => {
  test('python keywords, strings, comments and numbers', () => {
    const html = highlight('import os\nKEY = os.environ["K"]  # from the env\nn = 42\n', 'python');
    assert.match(html, /<span class="tok-keyword">import<\/span> os/);
    assert.match(html, /<span class="tok-string">&quot;K&quot;<\/span>/);
    assert.match(html, /<span class="tok-comment"># from the env<\/span>/);
    assert.match(html, /<span class="tok-number">42<\/span>/);
  });

  test('markup in code is escaped, whatever the language', () => {
    assert.equal(highlight('<script>x</script>', 'unknown'), '&lt;script&gt;x&lt;/script&gt;');
    assert.ok(!highlight('x = "<b>"', 'py').includes('<b>'));
  });

  test('aliases', () => {
    assert.equal(languageOf('ts'), 'javascript');
    assert.equal(languageOf('bash title'), 'shell');
    assert.equal(languageOf(''), undefined);
  });
});
