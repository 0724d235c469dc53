//! The outside readers: Python scripts under `tests/python/` run in the virtual environment that
//! `scripts/test.sh` makes under `target/python-venv` from `tests/python/requirements.txt`. A test
//! that needs a reader fails, saying how to install it, when the environment is missing: it never
//! skips silently.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The virtual environment's interpreter: `NISHAN_TEST_PYTHON`, or `target/python-venv`.
pub fn interpreter() -> PathBuf {
    if let Some(p) = std::env::var_os("NISHAN_TEST_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/python-venv/bin/python");
    assert!(
        venv.exists(),
        "the Python readers are not installed: run scripts/test.sh (it makes target/python-venv), or \
         `python3 -m venv target/python-venv && target/python-venv/bin/pip install -r tests/python/requirements.txt`"
    );
    venv
}

/// What a reader printed.
#[derive(Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// Runs `tests/python/<script>` with `args`, feeding `stdin`; panics with its output when it fails.
pub fn run(script: &str, args: &[&str], stdin: &str) -> Output {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(script);
    let mut child = Command::new(interpreter())
        .arg(&path)
        .args(args)
        .env("PYTHONIOENCODING", "utf-8")
        .env("HF_DATASETS_OFFLINE", "1")
        .env("HF_HUB_OFFLINE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", path.display()));
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let output = Output {
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    };
    assert!(out.status.success(), "{script} failed ({}):\n{}\n{}", out.status, output.stdout, output.stderr);
    output
}
