//! A failed run's output → the script lines it blames. Pure text in, findings out:
//! Python tracebacks (the deepest frame in the script, with the exception line), Node
//! stack traces (the first frame in the script, or the `path:line` header of a syntax
//! error) and shell errors (`path: line N: msg` from bash, `path: N: msg` from dash).

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

    #[test]
    fn kinds_come_from_the_command() {
        let k = |c: &str| Kind::of_command(&[c.to_string()]);
        assert_eq!(k("python3"), Some(Kind::Python));
        assert_eq!(k("/usr/bin/node"), Some(Kind::Node));
        assert_eq!(k("sh"), Some(Kind::Shell));
        assert_eq!(k("ruby"), None);
    }
}
