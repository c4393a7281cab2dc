//! MCP prompts, declared once like tools: a name, a description, the arguments it takes and
//! one scope, next to the function that writes its text. `prompts/list` and `prompts/get`
//! are served from the declarations and filtered by scope (a prompt outside the caller's
//! scopes is "no prompt"). Arguments are checked before the text is built: required ones
//! present, every value at most 1,024 characters and free of control characters.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::error::ToolError;

/// One argument of a prompt.
#[derive(Debug, Clone, Copy)]
pub struct PromptArg {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
}

/// A prompt: its declaration and the function that writes its text from checked arguments.
#[derive(Clone, Copy)]
pub struct PromptDef {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub scope: &'static str,
    pub arguments: &'static [PromptArg],
    pub text: fn(&BTreeMap<String, String>) -> Result<String, ToolError>,
}

impl std::fmt::Debug for PromptDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptDef")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The longest argument value a prompt takes.
pub const MAX_ARGUMENT_LEN: usize = 1024;

impl PromptDef {
    /// The declaration as `prompts/list` lists it (keys sorted, as `ToolDef::describe`).
    pub fn describe(&self) -> Value {
        crate::tool::sorted(json!({
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "arguments": self.arguments.iter().map(|a| json!({
                "name": a.name, "description": a.description, "required": a.required,
            })).collect::<Vec<_>>(),
        }))
    }

    /// Check `args` and write the prompt's text.
    pub fn render(&self, args: &BTreeMap<String, String>) -> Result<String, ToolError> {
        for a in self.arguments {
            if a.required && args.get(a.name).is_none_or(|v| v.trim().is_empty()) {
                return Err(ToolError::invalid(a.name, "is required"));
            }
        }
        for (k, v) in args {
            if !self.arguments.iter().any(|a| a.name == k) {
                return Err(ToolError::invalid(
                    crate::validate::excerpt(k, 64),
                    "is not an argument of this prompt",
                ));
            }
            crate::validate::check_len(k, v, MAX_ARGUMENT_LEN)?;
            crate::validate::check_no_control(k, v)?;
        }
        (self.text)(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(args: &BTreeMap<String, String>) -> Result<String, ToolError> {
        Ok(format!(
            "look at {}",
            args.get("id").map_or("?", String::as_str)
        ))
    }

    const P: PromptDef = PromptDef {
        name: "p",
        title: "P",
        description: "d",
        scope: "x:read",
        arguments: &[PromptArg {
            name: "id",
            description: "the id",
            required: true,
        }],
        text,
    };

    #[test]
    fn arguments_are_checked_before_the_text_is_written() {
        let args = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(P.render(&args(&[("id", "42")])).expect("ok"), "look at 42");
        for (bad, field) in [
            (args(&[]), "`id`"),
            (args(&[("id", " ")]), "`id`"),
            (args(&[("id", "4\n2")]), "`id`"),
            (args(&[("id", "1"), ("other", "x")]), "`other`"),
        ] {
            let e = P.render(&bad).expect_err("refused").to_string();
            assert!(e.contains(field), "{e}");
        }
        let long = "x".repeat(MAX_ARGUMENT_LEN + 1);
        assert!(P.render(&args(&[("id", &long)])).is_err());
    }
}
