//! What `execute_command` may run: an allowlist of command prefixes, checked on argv.
//!
//! The command is split on whitespace into argv; no shell syntax is understood, so anything
//! that looks like it (`; | & $ \` > < ( ) { }`, quotes, globs, `~`, `#`, backslashes,
//! newlines, NUL) is refused with a message before anything is sent. argv must start with an
//! allowlisted prefix (`qm status` allows `qm status 100`, not `qm destroy 100`); a program
//! in a system directory matches by its name (`/usr/bin/pvesh get` is `pvesh get`), any other
//! path only literally. Flags after the prefix must be on the program's own list
//! ([`ALLOWED_FLAGS`]). Each argument is single-quoted when the command line is rebuilt for
//! SSH exec.

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
    // The identity the commands run as: the seed runbook's first call.
    "whoami",
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

/// Flags allowed after the allowlisted prefix, per program (the name of the first word,
/// whatever its directory). Anything else that starts with `-` is refused: GNU tools accept
/// abbreviated long options (`--vacuum-t`) and bundled short ones (`-qf`), and one letter
/// means different things to different programs (`df -i` lists inodes, `journalctl -i` reads
/// another journal file), so a shared list or a deny list cannot be complete. A program not
/// listed here takes no flags beyond the words of its allowlist entry.
pub const ALLOWED_FLAGS: &[(&str, &[&str])] = &[
    ("qm", &["--full", "--verbose"]),
    ("pct", &[]),
    (
        "pvesh",
        &[
            "--output-format",
            "--noborder",
            "--noheader",
            "--human-readable",
        ],
    ),
    ("pveversion", &["-v", "--verbose"]),
    ("uptime", &["-p", "--pretty", "-s", "--since"]),
    (
        "df",
        &[
            "-h",
            "-H",
            "-T",
            "-i",
            "-a",
            "-l",
            "-k",
            "-P",
            "-t",
            "-x",
            "--human-readable",
            "--si",
            "--print-type",
            "--inodes",
            "--all",
            "--local",
            "--total",
            "--type",
            "--exclude-type",
            "--output",
        ],
    ),
    (
        "free",
        &[
            "-h", "-b", "-k", "-m", "-g", "-t", "-w", "-l", "--human", "--bytes", "--kibi",
            "--mebi", "--gibi", "--kilo", "--mega", "--giga", "--total", "--wide", "--lohi",
            "--si",
        ],
    ),
    (
        "zpool",
        &["-v", "-x", "-p", "-P", "-L", "-g", "-t", "-s", "-D", "-i"],
    ),
    ("ip", &[]),
    (
        "systemctl",
        &[
            "--no-pager",
            "-l",
            "--full",
            "-n",
            "--lines",
            "-a",
            "--all",
            "-o",
            "--output",
        ],
    ),
    (
        "journalctl",
        &[
            "-n",
            "--lines",
            "-u",
            "--unit",
            "-p",
            "--priority",
            "-S",
            "--since",
            "-U",
            "--until",
            "-b",
            "--boot",
            "-o",
            "--output",
            "--no-pager",
            "-r",
            "--reverse",
            "-x",
            "--catalog",
            "-k",
            "--dmesg",
            "-t",
            "--identifier",
            "-g",
            "--grep",
            "--utc",
            "-a",
            "--all",
            "-q",
            "--quiet",
            "--no-hostname",
        ],
    ),
];

/// Directories whose programs are the same command as their bare name: `/usr/bin/pvesh` is
/// `pvesh`. A program word with any other `/` is matched only literally.
const SYSTEM_DIRS: &[&str] = &["/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"];

/// The flags allowed for `program` after its allowlisted prefix.
pub fn allowed_flags(program: &str) -> &'static [&'static str] {
    ALLOWED_FLAGS
        .iter()
        .find(|(p, _)| *p == program)
        .map_or(&[], |(_, f)| f)
}

/// How a program word is compared with an allowlist entry: a program in a system directory
/// by its name, any other path as written.
fn canonical(word: &str) -> &str {
    SYSTEM_DIRS
        .iter()
        .find_map(|d| {
            word.strip_prefix(d)
                .filter(|rest| !rest.is_empty() && !rest.contains('/'))
        })
        .unwrap_or(word)
}

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

/// Why an allowlist (`PROXMOX_COMMAND_ALLOWLIST`) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("allowlist entry `{entry}` contains `{found}`")]
    Character { entry: String, found: char },
    #[error("the command allowlist is empty")]
    Empty,
}

/// The parsed allowlist.
#[derive(Debug, Clone)]
pub struct CommandPolicy {
    prefixes: Vec<Vec<String>>,
}

impl CommandPolicy {
    /// From `PROXMOX_COMMAND_ALLOWLIST` entries (each a command prefix, words split on spaces).
    pub fn new(entries: &[String]) -> Result<Self, PolicyError> {
        let mut prefixes = Vec::new();
        for e in entries {
            let words: Vec<String> = e.split_whitespace().map(str::to_string).collect();
            if words.is_empty() {
                continue;
            }
            for w in &words {
                if let Some(c) = w.chars().find(|c| !allowed_arg_char(*c)) {
                    return Err(PolicyError::Character {
                        entry: e.clone(),
                        found: c,
                    });
                }
            }
            prefixes.push(words);
        }
        if prefixes.is_empty() {
            return Err(PolicyError::Empty);
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
            .filter(|p| {
                argv.len() >= p.len()
                    && canonical(&argv[0]) == canonical(&p[0])
                    && argv[1..p.len()] == p[1..]
            })
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
                let name = program(&argv[0]);
                let allowed = allowed_flags(name);
                if !allowed.contains(&flag) {
                    let which = if allowed.is_empty() {
                        format!("{name} takes no options here")
                    } else {
                        format!("allowed options for {name}: {}", allowed.join(" "))
                    };
                    return Err(ToolError::denied(format!(
                        "the option `{a}` is not allowed after `{}`; {which}",
                        prefix.join(" "),
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

/// The name of a program word: what follows its last `/`.
pub fn program(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
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
    fn flags_are_allowed_per_command() {
        let p = CommandPolicy::default_policy();
        for ok in [
            "journalctl -n 50 -u pveproxy --no-pager",
            "journalctl -n 5 --since=2024-01-01 -p err",
            "systemctl status pveproxy --no-pager -l",
            "df -h -T",
            "df -i",
            "free -h",
            "zpool status -v",
            "pvesh get /nodes --output-format json",
            "qm list --full",
        ] {
            assert!(p.check(ok).is_ok(), "{ok}: {:?}", p.check(ok).err());
        }
        for (bad, flag) in [
            ("journalctl -n 5 -i /etc/shadow", "-i"),
            ("journalctl -n 5 -H root@10.0.0.9", "-H"),
            ("journalctl -n 5 -M other", "-M"),
            ("journalctl -n 5 --machine=other", "--machine=other"),
            ("systemctl status -H root@10.0.0.9", "-H"),
            ("systemctl status --host=10.0.0.9", "--host=10.0.0.9"),
            ("systemctl status --host 10.0.0.9", "--host"),
            ("systemctl status -M other", "-M"),
            ("systemctl status --machine other", "--machine"),
            ("df -u", "-u"),
            ("free -s 1", "-s"),
            ("qm list -i", "-i"),
            ("zpool status -c /tmp/x", "-c"),
            ("ip -br addr show -x", "-x"),
        ] {
            let e = p.check(bad).expect_err(bad).to_string();
            assert!(
                e.contains(&format!("the option `{flag}` is not allowed")),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn commands_are_matched_by_name_not_path() {
        let p = CommandPolicy::default_policy();
        // A system path is the same command, with the same checks.
        let argv = p.check("/usr/bin/pvesh get /nodes").expect("system path");
        assert_eq!(program(&argv[0]), "pvesh");
        assert!(p.check("/usr/sbin/qm list").is_ok());
        let e = p.check("/usr/bin/journalctl -n 5 -i x").expect_err("flag");
        assert!(e.to_string().contains("the option `-i`"), "{e}");
        // Any other path is another program.
        for bad in [
            "/tmp/qm list",
            "./qm list",
            "/usr/bin/../../tmp/qm list",
            "/usr//bin/qm list",
        ] {
            let e = p.check(bad).expect_err(bad).to_string();
            assert!(e.contains("not on the command allowlist"), "{bad}: {e}");
        }
        // An entry with a path outside the system directories matches only that path, and
        // the per-command rules still go by its name.
        let p = CommandPolicy::new(&["/opt/pve/bin/pvesh get".into()]).expect("ok");
        let argv = p
            .check("/opt/pve/bin/pvesh get /nodes")
            .expect("exact path");
        assert_eq!(program(&argv[0]), "pvesh");
        assert!(p.check("pvesh get /nodes").is_err());
        assert!(p.check("/opt/pve/bin/pvesh get /nodes --noheader").is_ok());
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
