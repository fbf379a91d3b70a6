//! The `warden-mock-llm` command line: `--help` prints help and exits (it used to
//! start a server), a bad port is an error, not a server on a port the system chose.

use std::process::Command;

fn mock() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden-mock-llm"))
}

#[test]
fn help_prints_usage_and_exits() {
    for flag in ["--help", "-h"] {
        let out = mock().arg(flag).output().unwrap();
        assert!(out.status.success(), "{flag}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: warden-mock-llm [PORT]"), "{text}");
        assert!(!text.contains("http://"), "no server started: {text}");
    }
}

#[test]
fn a_port_that_is_not_a_number_is_an_error() {
    let out = mock().arg("eighty").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'eighty'"));
    assert!(out.stdout.is_empty());
}
