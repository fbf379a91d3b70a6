// A small syntax highlighter for the explanation panel's code blocks (pure, no DOM): splits
// code into comment, string, number, keyword and plain runs for the languages warden's
// LLM actions work on (Python, JavaScript/TypeScript, shell, Go, Rust, JSON, TOML/YAML) and
// returns escaped HTML with `tok-*` classes, coloured by the panel's CSS from theme
// variables. Unknown languages come back escaped, unhighlighted. No dependency: a
// tokenizer of a few regular expressions is enough for short replies.

const KEYWORDS: Record<string, string[]> = {
  python: 'and as assert async await break class continue def del elif else except False finally for from global if import in is lambda None nonlocal not or pass raise return True try while with yield match case self'.split(' '),
  javascript: 'async await break case catch class const continue debugger default delete do else export extends false finally for from function if import in instanceof let new null of return static super switch this throw true try typeof undefined var void while with yield interface type enum implements readonly as'.split(' '),
  shell: 'if then else elif fi case esac for while until do done in function return export local readonly set unset exit source echo'.split(' '),
  go: 'break case chan const continue default defer else fallthrough for func go goto if import interface map package range return select struct switch type var nil true false'.split(' '),
  rust: 'as async await break const continue crate dyn else enum extern false fn for if impl in let loop match mod move mut pub ref return self Self static struct super trait true type unsafe use where while Some None Ok Err'.split(' '),
  json: 'true false null'.split(' '),
  toml: 'true false'.split(' '),
};

const ALIASES: Record<string, string> = {
  py: 'python', python3: 'python', js: 'javascript', mjs: 'javascript', cjs: 'javascript', ts: 'javascript',
  typescript: 'javascript', jsx: 'javascript', tsx: 'javascript', sh: 'shell', bash: 'shell', zsh: 'shell',
  console: 'shell', golang: 'go', rs: 'rust', jsonc: 'json', yaml: 'toml', yml: 'toml', ini: 'toml',
};

/** The language a fence's info string names, or undefined when not known here. */
export function languageOf(info: string): string | undefined {
  const name = info.trim().split(/\s+/, 1)[0]?.toLowerCase() ?? '';
  const lang = ALIASES[name] ?? name;
  return lang in KEYWORDS ? lang : undefined;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function comment(lang: string): string {
  if (lang === 'python' || lang === 'shell' || lang === 'toml') return '#[^\\n]*';
  if (lang === 'json') return '(?!)';
  return '\\/\\/[^\\n]*|\\/\\*[\\s\\S]*?\\*\\/';
}

function strings(lang: string): string {
  const basic = '"(?:[^"\\\\\\n]|\\\\.)*"|\'(?:[^\'\\\\\\n]|\\\\.)*\'';
  if (lang === 'python') return `"""[\\s\\S]*?"""|'''[\\s\\S]*?'''|[rbfu]{0,2}(?:${basic})`;
  if (lang === 'javascript' || lang === 'go') return `\`(?:[^\`\\\\]|\\\\.)*\`|${basic}`;
  return basic;
}

/** Escaped HTML of `code` with `<span class="tok-…">` runs; plain escaped text for unknown languages. */
export function highlight(code: string, info: string): string {
  const lang = languageOf(info);
  if (!lang) {
    return escapeHtml(code);
  }
  const words = KEYWORDS[lang];
  const re = new RegExp(`(${comment(lang)})|(${strings(lang)})|(\\b\\d[\\d_]*(?:\\.\\d+)?(?:e[+-]?\\d+)?\\b|\\b0x[0-9a-f]+\\b)|([A-Za-z_$][\\w$]*)`, 'gi');
  let out = '';
  let last = 0;
  for (let m = re.exec(code); m; m = re.exec(code)) {
    if (m[0] === '') {
      re.lastIndex++;
      continue;
    }
    out += escapeHtml(code.slice(last, m.index));
    const cls = m[1] ? 'comment' : m[2] ? 'string' : m[3] ? 'number' : words.includes(m[4]) ? 'keyword' : undefined;
    out += cls ? `<span class="tok-${cls}">${escapeHtml(m[0])}</span>` : escapeHtml(m[0]);
    last = m.index + m[0].length;
  }
  return out + escapeHtml(code.slice(last));
}
