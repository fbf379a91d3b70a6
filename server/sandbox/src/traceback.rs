//! A failed run's output → the script lines it blames. Pure text in, findings out:
//! Python tracebacks (the deepest frame in the script, with the exception line), Node
//! stack traces (the first frame in the script, or the `path:line` header of a syntax
//! error) and shell errors (`path: line N: msg` from bash, `path: N: msg` from dash).
//!
//! The runtime names the script by its path in the container (`/work/<name>`);
//! [`ScriptPath`] maps that path, as a whole path, to the script's workspace path
//! (`scripts/<name>`) in output streamed chunk by chunk, so what a person reads names
//! the file they can open.

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Python,
    Node,
    Shell,
}

impl Kind {
    /// From the runner command (`python3`, `node`, `sh`, `bash`, ...).
    pub fn of_command(command: &[String]) -> Option<Kind> {
        let exe = command.first()?.rsplit('/').next()?;
        if exe.starts_with("python") {
            Some(Kind::Python)
        } else if exe.starts_with("node") || exe == "nodejs" {
            Some(Kind::Node)
        } else if matches!(exe, "sh" | "bash" | "dash" | "zsh" | "ksh") {
            Some(Kind::Shell)
        } else {
            None
        }
    }
}

/// A problem at a line of the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based.
    pub line: u32,
    /// 1-based, when the runtime says.
    pub column: Option<u32>,
    pub message: String,
    /// Other lines of the script on the way there (callers), outermost first.
    pub trace: Vec<u32>,
}

/// Findings for the script at `script_path` (as the container saw it) in `output`.
pub fn parse(kind: Kind, script_path: &str, output: &str) -> Vec<Finding> {
    match kind {
        Kind::Python => python(script_path, output).into_iter().collect(),
        Kind::Node => node(script_path, output).into_iter().collect(),
        Kind::Shell => shell(script_path, output),
    }
}

fn python(path: &str, out: &str) -> Option<Finding> {
    // The last traceback (chained exceptions print the one that ended the run last).
    let start = out.rfind("Traceback (most recent call last):").unwrap_or(0);
    let block = &out[start..];
    let frame = Regex::new(r#"^\s*File "([^"]+)", line (\d+)"#).expect("valid regex");
    let mut lines_in_script = Vec::new();
    let mut last_frame_at = None;
    let lines: Vec<&str> = block.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if let Some(c) = frame.captures(l) {
            last_frame_at = Some(i);
            if &c[1] == path {
                lines_in_script.push(c[2].parse::<u32>().ok()?);
            }
        }
    }
    let deepest = lines_in_script.pop()?;
    let message = lines[last_frame_at? + 1..]
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with(char::is_whitespace))
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| "the script failed here".into());
    Some(Finding {
        line: deepest,
        column: None,
        message,
        trace: lines_in_script,
    })
}

fn node(path: &str, out: &str) -> Option<Finding> {
    let esc = regex::escape(path);
    let frame = Regex::new(&format!(r"^\s+at (?:.*\()?{esc}:(\d+):(\d+)\)?$")).expect("valid");
    let header = Regex::new(&format!(r"^{esc}:(\d+)$")).expect("valid");
    let lines: Vec<&str> = out.lines().collect();
    let first_at = lines.iter().position(|l| l.trim_start().starts_with("at "));
    let message = first_at
        .and_then(|i| {
            lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_owned())
        })
        .or_else(|| {
            lines
                .iter()
                .find(|l| l.contains("Error"))
                .map(|l| l.trim().to_owned())
        })
        .unwrap_or_else(|| "the script failed here".into());
    let frames: Vec<(u32, u32)> = lines
        .iter()
        .filter_map(|l| frame.captures(l))
        .filter_map(|c| Some((c[1].parse().ok()?, c[2].parse().ok()?)))
        .collect();
    if let Some(&(line, col)) = frames.first() {
        let mut trace: Vec<u32> = frames[1..].iter().map(|f| f.0).collect();
        trace.reverse();
        return Some(Finding {
            line,
            column: Some(col),
            message,
            trace,
        });
    }
    let line = lines
        .iter()
        .find_map(|l| header.captures(l))
        .and_then(|c| c[1].parse().ok())?;
    Some(Finding {
        line,
        column: None,
        message,
        trace: Vec::new(),
    })
}

fn shell(path: &str, out: &str) -> Vec<Finding> {
    let esc = regex::escape(path);
    let re = Regex::new(&format!(r"^{esc}: (?:line )?(\d+): (.+)$")).expect("valid");
    out.lines()
        .filter_map(|l| re.captures(l))
        .filter_map(|c| {
            Some(Finding {
                line: c[1].parse().ok()?,
                column: None,
                message: c[2].trim().to_owned(),
                trace: Vec::new(),
            })
        })
        .collect()
}

/// Rewrites the script's container path to its workspace path in run output, as
/// chunks arrive (one per stream). Only the path as a whole is rewritten: not inside a
/// longer path (`/home/work/x.py`, `/work/x.py.bak`, `/work/x.pyc`). A chunk that ends
/// in what may be the start of the path is held back until the next chunk decides it
/// (or [`ScriptPath::finish`] releases it).
#[derive(Debug, Clone)]
pub struct ScriptPath {
    from: String,
    to: String,
    pending: String,
    /// The last character before `pending` (for the boundary check).
    prev: Option<char>,
}

/// Characters that continue a path (so a match next to one is part of another path).
fn path_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | '.' | '~')
}

impl ScriptPath {
    /// Rewrites `container` (`/work/load.py`) to `workspace` (`scripts/load.py`).
    pub fn new(container: &str, workspace: &str) -> ScriptPath {
        ScriptPath {
            from: container.to_owned(),
            to: workspace.to_owned(),
            pending: String::new(),
            prev: None,
        }
    }

    /// The path the runtime prints (inside the container).
    pub fn container(&self) -> &str {
        &self.from
    }

    /// The path output names instead (in the workspace).
    pub fn workspace(&self) -> &str {
        &self.to
    }

    /// The rewritten text that can be released after `chunk`.
    pub fn push(&mut self, chunk: &str) -> String {
        self.pending.push_str(chunk);
        self.process(false)
    }

    /// Whatever was held back, rewritten as the end of the stream.
    pub fn finish(&mut self) -> String {
        self.process(true)
    }

    /// A whole text at once.
    pub fn rewrite(&self, text: &str) -> String {
        let mut r = ScriptPath::new(&self.from, &self.to);
        let mut out = r.push(text);
        out.push_str(&r.finish());
        out
    }

    fn process(&mut self, last: bool) -> String {
        let buf = std::mem::take(&mut self.pending);
        let Some(first) = self.from.chars().next().filter(|_| self.from != self.to) else {
            self.prev = buf.chars().last().or(self.prev);
            return buf;
        };
        let mut out = String::with_capacity(buf.len());
        let mut at = 0; // rewritten up to here
        let mut held = None;
        while let Some(found) = buf[at..].find(&self.from) {
            let m = at + found;
            let end = m + self.from.len();
            let mut after = buf[end..].chars();
            let (a1, a2) = (after.next(), after.next());
            if !last && a2.is_none() {
                // Too close to the end to tell `x.py` from `x.py.bak`: wait for more.
                held = Some(m);
                break;
            }
            let before = buf[..m].chars().last().or(self.prev);
            let continues = match (a1, a2) {
                // a full stop ends a sentence; `.bak` continues the path
                (Some('.'), next) => next.is_some_and(path_char),
                (Some(c), _) => path_char(c),
                (None, _) => false,
            };
            out.push_str(&buf[at..m]);
            if before.is_some_and(path_char) || continues {
                out.push(first);
                at = m + first.len_utf8();
            } else {
                out.push_str(&self.to);
                at = end;
            }
        }
        let keep_from = match held {
            Some(m) => m,
            None if last => buf.len(),
            // The longest tail that may be the start of the path.
            None => (buf.len().saturating_sub(self.from.len()).max(at)..buf.len())
                .find(|&i| buf.is_char_boundary(i) && self.from.starts_with(&buf[i..]))
                .unwrap_or(buf.len()),
        };
        out.push_str(&buf[at..keep_from]);
        self.prev = buf[..keep_from].chars().last().or(self.prev);
        self.pending = buf[keep_from..].to_owned();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/work/load.py";

    #[test]
    fn python_deepest_frame_in_the_script_with_the_exception() {
        let out = "starting\nTraceback (most recent call last):\n  File \"/work/load.py\", line 12, in <module>\n    main()\n  File \"/work/load.py\", line 8, in main\n    return 1 / 0\n           ~~^~~\n  File \"/usr/lib/python3.11/x.py\", line 3, in f\n    pass\nZeroDivisionError: division by zero\n";
        assert_eq!(
            parse(Kind::Python, P, out),
            [Finding {
                line: 8,
                column: None,
                message: "ZeroDivisionError: division by zero".into(),
                trace: vec![12],
            }]
        );
    }

    #[test]
    fn python_syntax_error_and_chained_exceptions() {
        let out = "  File \"/work/load.py\", line 3\n    print(\n         ^\nSyntaxError: '(' was never closed\n";
        let f = &parse(Kind::Python, P, out)[0];
        assert_eq!(
            (f.line, f.message.as_str()),
            (3, "SyntaxError: '(' was never closed")
        );
        let chained = "Traceback (most recent call last):\n  File \"/work/load.py\", line 2, in <module>\n    x()\nKeyError: 'a'\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"/work/load.py\", line 4, in <module>\n    y()\nValueError: bad\n";
        let f = &parse(Kind::Python, P, chained)[0];
        assert_eq!((f.line, f.message.as_str()), (4, "ValueError: bad"));
        assert!(parse(Kind::Python, P, "all good\n").is_empty());
        let elsewhere =
            "Traceback (most recent call last):\n  File \"/other.py\", line 1, in <module>\nE: x\n";
        assert!(parse(Kind::Python, P, elsewhere).is_empty());
    }

    #[test]
    fn node_frames_and_syntax_errors() {
        let out = "/work/app.js:3\n  throw new Error(\"boom\");\n  ^\n\nError: boom\n    at f (/work/app.js:3:9)\n    at Object.<anonymous> (/work/app.js:6:1)\n    at Module._compile (node:internal/modules/cjs/loader:1105:14)\n\nNode.js v18.19.0\n";
        assert_eq!(
            parse(Kind::Node, "/work/app.js", out),
            [Finding {
                line: 3,
                column: Some(9),
                message: "Error: boom".into(),
                trace: vec![6],
            }]
        );
        let syntax = "/work/app.js:2\nlet x = ;\n        ^\n\nSyntaxError: Unexpected token ';'\n    at internalCompileFunction (node:internal/vm:76:18)\n";
        let f = &parse(Kind::Node, "/work/app.js", syntax)[0];
        assert_eq!(
            (f.line, f.message.as_str()),
            (2, "SyntaxError: Unexpected token ';'")
        );
    }

    #[test]
    fn shell_errors_from_bash_and_dash() {
        let out = "/work/run.sh: line 4: frobnicate: command not found\nok\n/work/run.sh: 7: cd: can't cd to /nope\n";
        let f = parse(Kind::Shell, "/work/run.sh", out);
        assert_eq!(
            f.iter()
                .map(|f| (f.line, f.message.as_str()))
                .collect::<Vec<_>>(),
            [
                (4, "frobnicate: command not found"),
                (7, "cd: can't cd to /nope")
            ]
        );
    }

    const REPORT: &str = "/work/2.00_report.py";
    const REL: &str = "scripts/2.00_report.py";

    #[test]
    fn the_container_path_becomes_the_workspace_path_in_output() {
        let p = ScriptPath::new(REPORT, REL);
        let out = "starting\nTraceback (most recent call last):\n  File \"/work/2.00_report.py\", line 9, in <module>\n    main()\n  File \"/work/2.00_report.py\", line 5, in main\n    raise RuntimeError(f\"{__file__}: no rows\")\nRuntimeError: /work/2.00_report.py: no rows\n";
        let shown = p.rewrite(out);
        assert_eq!(
            shown,
            "starting\nTraceback (most recent call last):\n  File \"scripts/2.00_report.py\", line 9, in <module>\n    main()\n  File \"scripts/2.00_report.py\", line 5, in main\n    raise RuntimeError(f\"{__file__}: no rows\")\nRuntimeError: scripts/2.00_report.py: no rows\n"
        );
        // Parsed with the workspace path: the same lines, messages naming the file.
        assert_eq!(
            parse(Kind::Python, REL, &shown),
            [Finding {
                line: 5,
                column: None,
                message: "RuntimeError: scripts/2.00_report.py: no rows".into(),
                trace: vec![9],
            }]
        );
        assert_eq!(parse(Kind::Python, REPORT, out)[0].line, 5);

        let node = ScriptPath::new("/work/app.js", "web/app.js");
        let shown = node.rewrite("/work/app.js:3\n  throw new Error(\"boom\");\n\nError: boom\n    at f (/work/app.js:3:9)\n    at /work/app.js:6:1\n");
        assert_eq!(
            shown,
            "web/app.js:3\n  throw new Error(\"boom\");\n\nError: boom\n    at f (web/app.js:3:9)\n    at web/app.js:6:1\n"
        );
        let f = &parse(Kind::Node, "web/app.js", &shown)[0];
        assert_eq!(
            (f.line, f.column, f.trace.as_slice()),
            (3, Some(9), &[6][..])
        );

        let sh = ScriptPath::new("/work/run.sh", "ops/run.sh");
        let shown = sh.rewrite("/work/run.sh: line 4: frobnicate: command not found\n");
        assert_eq!(shown, "ops/run.sh: line 4: frobnicate: command not found\n");
        assert_eq!(parse(Kind::Shell, "ops/run.sh", &shown)[0].line, 4);
    }

    #[test]
    fn only_the_whole_path_is_rewritten() {
        let p = ScriptPath::new("/work/load.py", "scripts/load.py");
        for (text, want) in [
            ("/work/load.py", "scripts/load.py"),
            (
                "can't open '/work/load.py': no",
                "can't open 'scripts/load.py': no",
            ),
            ("ran /work/load.py.", "ran scripts/load.py."),
            ("(/work/load.py:3:1)", "(scripts/load.py:3:1)"),
            ("/home/work/load.py", "/home/work/load.py"),
            ("~/work/load.py", "~/work/load.py"),
            ("/work/load.py.bak", "/work/load.py.bak"),
            ("/work/load.pyc", "/work/load.pyc"),
            ("/work/load.py/x", "/work/load.py/x"),
            ("/work/input/in.txt", "/work/input/in.txt"),
            ("é/work/load.py é", "é/work/load.py é"),
            ("😀 /work/load.py😀", "😀 scripts/load.py😀"),
        ] {
            assert_eq!(p.rewrite(text), want, "{text}");
        }
        // Same paths: nothing to do.
        let same = ScriptPath::new("/work/x.py", "/work/x.py");
        assert_eq!(same.rewrite("/work/x.py:1"), "/work/x.py:1");
    }

    #[test]
    fn chunks_split_anywhere_give_the_same_text() {
        let p = ScriptPath::new(REPORT, REL);
        let out = "a /work/2.00_report.py b\n  File \"/work/2.00_report.py\", line 3\n/work/2.00_report.py.bak /work/2.00_report.py";
        let want = p.rewrite(out);
        assert_eq!(
            want,
            "a scripts/2.00_report.py b\n  File \"scripts/2.00_report.py\", line 3\n/work/2.00_report.py.bak scripts/2.00_report.py"
        );
        for cut in 0..=out.len() {
            for cut2 in cut..=out.len() {
                let mut s = p.clone();
                let mut got = s.push(&out[..cut]);
                got.push_str(&s.push(&out[cut..cut2]));
                got.push_str(&s.push(&out[cut2..]));
                got.push_str(&s.finish());
                assert_eq!(got, want, "cuts at {cut} and {cut2}");
            }
        }
        // One character at a time; text that cannot be the path is never held back.
        let mut s = p.clone();
        let mut got: String = out.chars().map(|c| s.push(&c.to_string())).collect();
        got.push_str(&s.finish());
        assert_eq!(got, want);
        let mut s = p.clone();
        assert_eq!(s.push("progress 10%\n"), "progress 10%\n");
        assert_eq!(s.push("see /wo"), "see ");
        assert_eq!(s.push("rkers"), "/workers");
        assert_eq!(s.push(" and /work/2.00_report.py"), " and ");
        assert_eq!(s.finish(), "scripts/2.00_report.py");
    }

    #[test]
    fn kinds_come_from_the_command() {
        let k = |c: &str| Kind::of_command(&[c.to_string()]);
        assert_eq!(k("python3"), Some(Kind::Python));
        assert_eq!(k("/usr/bin/node"), Some(Kind::Node));
        assert_eq!(k("sh"), Some(Kind::Shell));
        assert_eq!(k("ruby"), None);
    }
}
