//! The subcommands every server shares (`check`, `tools`, `token`, a refused `serve`), run as
//! an operator would: a clean environment, no stdin, a bounded wait.

use std::process::Output;
use std::time::Duration;

/// Run `bin args...` with only `env` (plus `PATH`), stdin closed, for at most 60 s.
pub async fn run(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args)
        .env_clear()
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{bin} {args:?} did not exit within 60 s"))
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"))
}

/// `bin check` with `env` succeeds; its one line of output (trimmed) is returned.
pub async fn check_ok(bin: &str, env: &[(&str, &str)]) -> String {
    let out = run(bin, &["check"], env).await;
    assert!(
        out.status.success(),
        "check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `bin args...` with `env` exits with `code`; its stderr is returned.
pub async fn exits_with(bin: &str, args: &[&str], env: &[(&str, &str)], code: i32) -> String {
    let out = run(bin, args, env).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    stderr
}

/// `bin check` with `env` fails (exit 1) and says `needle` on stderr.
pub async fn check_fails(bin: &str, env: &[(&str, &str)], needle: &str) -> String {
    let stderr = exits_with(bin, &["check"], env, 1).await;
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    stderr
}
