//! What `execute_command` may run: an allowlist of command prefixes, checked on argv.
//!
//! The command is split on whitespace into argv; no shell syntax is understood, so anything
//! that looks like it (`; | & $ \` > < ( ) { }`, quotes, globs, `~`, `#`, backslashes,
//! newlines, NUL) is refused with a message before anything is sent. argv must start with an
//! allowlisted prefix (`qm status` allows `qm status 100`, not `qm destroy 100`). Each
//! argument is single-quoted when the command line is rebuilt for SSH exec.

use mcp_core::ToolError;

/// The default allowlist: read-only diagnostics.
pub const DEFAULT_ALLOWLIST: &[&str] = &[
    "qm list",
    "qm status",
    "pct list",
    "pvesh get",
    "pveversion",
    "uptime",
    "df",
    "free",
    "zpool status",
    "ip -br addr show",
    "systemctl status",
    "journalctl -n",
];

/// Arguments that turn an allowed read into a write or read files outside the journal.
const DENIED_ARGS: &[&str] = &[
    "--vacuum-size",
    "--vacuum-time",
    "--vacuum-files",
    "--rotate",
    "--flush",
    "--sync",
    "--relinquish-var",
    "--smart-relinquish-var",
    "--setup-keys",
    "--update-catalog",
    "--file",
    "--directory",
    "-D",
    "--root",
    "--image",
    "-f",
    "--follow",
];

/// Flags an argument may use after the allowlisted prefix. Anything else that starts with
/// `-` is refused: GNU tools accept abbreviated long options (`--vacuum-t`) and bundled
/// short ones (`-qf`), so a deny list alone cannot be complete.
const ALLOWED_FLAGS: &[&str] = &[
    "-h",
    "-H",
    "-T",
    "-i",
    "-a",
    "-l",
    "-m",
    "-g",
    "-k",
    "-w",
    "-t",
    "-b",
    "-n",
    "-u",
    "-p",
    "-o",
    "-v",
    "-x",
    "-r",
    "-e",
    "--no-pager",
    "--full",
    "--all",
    "--human-readable",
    "--utc",
    "--since",
    "--until",
    "--unit",
    "--priority",
    "--lines",
    "--output",
    "--boot",
    "--verbose",
    "--output-format",
    "--noborder",
    "--noheader",
    "--type",
    "--human",
];

/// Words that turn a reading command into a writing one (`ip addr add`, `systemctl
/// restart`), refused anywhere after the prefix.
const DENIED_WORDS: &[&str] = &[
    "add", "del", "delete", "flush", "change", "replace", "set", "create", "destroy", "remove",
    "rm", "start", "stop", "restart", "reload", "kill", "reboot", "shutdown", "poweroff", "enable",
    "disable", "mask", "unmask", "edit", "reset", "clear", "import", "export", "write", "scrub",
    "resilver", "online", "offline", "attach", "detach", "migrate", "clone",
];

const MAX_COMMAND_LEN: usize = 1024;
const MAX_ARGS: usize = 32;

/// The parsed allowlist.
#[derive(Debug, Clone)]
pub struct CommandPolicy {
    prefixes: Vec<Vec<String>>,
}

impl CommandPolicy {
    /// From `PROXMOX_COMMAND_ALLOWLIST` entries (each a command prefix, words split on spaces).
    pub fn new(entries: &[String]) -> Result<Self, String> {
        let mut prefixes = Vec::new();
        for e in entries {
            let words: Vec<String> = e.split_whitespace().map(str::to_string).collect();
            if words.is_empty() {
                continue;
            }
            for w in &words {
                if let Some(c) = w.chars().find(|c| !allowed_arg_char(*c)) {
                    return Err(format!("allowlist entry `{e}` contains `{c}`"));
                }
            }
            prefixes.push(words);
        }
        if prefixes.is_empty() {
            return Err("the command allowlist is empty".into());
        }
        Ok(Self { prefixes })
    }

    pub fn default_policy() -> Self {
        Self {
            prefixes: DEFAULT_ALLOWLIST
                .iter()
                .map(|e| e.split_whitespace().map(str::to_string).collect())
                .collect(),
        }
    }

    /// The allowlist as text, for error messages and `capabilities`.
    pub fn describe(&self) -> String {
        self.prefixes
            .iter()
            .map(|p| p.join(" "))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Check a command; return its argv.
    pub fn check(&self, command: &str) -> Result<Vec<String>, ToolError> {
        let field = "command";
        if command.len() > MAX_COMMAND_LEN {
            return Err(ToolError::invalid(
                field,
                format!("is longer than {MAX_COMMAND_LEN} bytes"),
            ));
        }
        if let Some(c) = command.chars().find(|c| !allowed_arg_char(*c) && *c != ' ') {
            return Err(ToolError::invalid(
                field,
                format!(
                    "contains {}, which is refused: commands run without a shell, as plain words",
                    describe(c)
                ),
            ));
        }
        let argv: Vec<String> = command
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        if argv.is_empty() {
            return Err(ToolError::invalid(field, "is empty"));
        }
        if argv.len() > MAX_ARGS {
            return Err(ToolError::invalid(
                field,
                format!("has more than {MAX_ARGS} words"),
            ));
        }
        if let Some(a) = argv.iter().find(|a| {
            DENIED_ARGS
                .iter()
                .any(|d| a == d || a.starts_with(&format!("{d}=")))
        }) {
            return Err(ToolError::denied(format!(
                "the argument `{a}` is not allowed: it writes, follows, or reads outside what diagnostics need"
            )));
        }
        let Some(prefix) = self
            .prefixes
            .iter()
            .filter(|p| argv.len() >= p.len() && argv[..p.len()] == p[..])
            .max_by_key(|p| p.len())
        else {
            return Err(ToolError::denied(format!(
                "`{}` is not on the command allowlist (PROXMOX_COMMAND_ALLOWLIST); allowed: {}",
                argv.iter().take(2).cloned().collect::<Vec<_>>().join(" "),
                self.describe()
            )));
        };
        for a in &argv[prefix.len()..] {
            if a.starts_with('-') {
                let flag = a.split_once('=').map_or(a.as_str(), |(f, _)| f);
                if !ALLOWED_FLAGS.contains(&flag) {
                    return Err(ToolError::denied(format!(
                        "the option `{a}` is not allowed after `{}`; allowed options: {}",
                        prefix.join(" "),
                        ALLOWED_FLAGS.join(" ")
                    )));
                }
            } else if DENIED_WORDS.contains(&a.to_ascii_lowercase().as_str()) {
                return Err(ToolError::denied(format!(
                    "the word `{a}` is not allowed: it would turn `{}` into a change",
                    prefix.join(" ")
                )));
            }
        }
        Ok(argv)
    }
}

fn allowed_arg_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._/:=@%+,-".contains(c)
}

fn describe(c: char) -> String {
    match c {
        '\n' => "a newline".into(),
        '\r' => "a carriage return".into(),
        '\0' => "a NUL byte".into(),
        '\t' => "a tab".into(),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c if !c.is_ascii() => format!("the non-ASCII character `{c}` (U+{:04X})", c as u32),
        c => format!("`{c}`"),
    }
}

/// Rebuild a command line for SSH exec: every argument single-quoted. argv holds only
/// `[A-Za-z0-9._/:=@%+,-]`, so no argument can close the quotes.
pub fn quote(argv: &[String]) -> String {
    argv.iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn allowlisted_prefixes_only() {
        let p = CommandPolicy::default_policy();
        for ok in [
            "qm list",
            "qm status 100",
            "pvesh get /nodes/pve1/status",
            "df -h",
            "journalctl -n 50 -u pveproxy",
            "ip -br addr show",
            "  uptime  ",
        ] {
            assert!(p.check(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("qm destroy 100", "allowlist"),
            ("qm", "allowlist"),
            ("pvesh set /nodes", "allowlist"),
            ("rm -rf /", "allowlist"),
            ("journalctl -n 5 --vacuum-size=1M", "not allowed"),
            ("journalctl -n 5 -f", "not allowed"),
            ("journalctl -n 5 --vacuum-t=1s", "not allowed"),
            ("journalctl -n 5 --fil=/etc/shadow", "not allowed"),
            ("journalctl -n 5 -qf", "not allowed"),
            ("ip -br addr show add 10.0.0.1/24 dev vmbr0", "not allowed"),
            ("ip -br addr", "allowlist"),
            ("systemctl status pveproxy restart", "not allowed"),
            ("systemctl stop pveproxy", "allowlist"),
        ] {
            let e = p.check(bad).expect_err(bad).to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn shell_syntax_is_refused_before_anything_else() {
        let p = CommandPolicy::default_policy();
        for bad in [
            "uptime; id",
            "uptime | nc x 1",
            "uptime && id",
            "echo $HOME",
            "df `id`",
            "df > /etc/x",
            "df < x",
            "df $(id)",
            "df {a,b}",
            "uptime\nid",
            "uptime\r",
            "df \0",
            "ls *",
            "ls ?",
            "ls [a]",
            "cat ~/.ssh/id",
            "df 'a'",
            "df \"a\"",
            "df \\x",
            "df #x",
            "df\tx",
            "ｕptime",
        ] {
            let e = p.check(bad).expect_err(bad);
            assert_eq!(e.field(), Some("command"), "{bad:?}");
        }
    }

    #[test]
    fn quoting_is_safe() {
        assert_eq!(
            quote(&["qm".into(), "status".into(), "100".into()]),
            "'qm' 'status' '100'"
        );
    }

    #[test]
    fn custom_allowlist() {
        let p = CommandPolicy::new(&["qm list".into(), "ls -la".into()]).expect("ok");
        assert!(p.check("ls -la /var/log").is_ok());
        assert!(p.check("ls /").is_err());
        assert!(CommandPolicy::new(&["rm;".into()]).is_err());
        assert!(CommandPolicy::new(&[]).is_err());
    }

    proptest! {
        #[test]
        fn accepted_commands_never_hold_shell_syntax(s in "\\PC{0,60}") {
            let p = CommandPolicy::new(&["a".into(), "qm".into(), "df".into()]).expect("policy");
            if let Ok(argv) = p.check(&s) {
                let line = quote(&argv);
                for c in [';', '|', '&', '$', '`', '>', '<', '(', ')', '{', '}', '\n', '*', '?', '\\', '"', '~'] {
                    prop_assert!(!line.contains(c));
                }
                prop_assert_eq!(line.matches('\'').count(), argv.len() * 2);
            }
        }
    }
}
