//! Administrators: each has an API key, and a password for keygen.

/// One administrator account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Admin name: the owner of its changes, jobs and locks.
    pub name: String,
    /// Password accepted by `type=keygen` (keygen fails without one).
    pub password: Option<String>,
    /// The API key (`X-PAN-KEY` header or `key` parameter); keygen returns it.
    pub api_key: String,
}

/// Why a `--user` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--user takes NAME:PASSWORD:KEY (the key may not contain ':'), got {0:?}")]
pub struct UserSpecError(pub String);

impl std::str::FromStr for User {
    type Err = UserSpecError;

    /// `NAME:PASSWORD:KEY`: the name ends at the first `:`, the key starts
    /// after the last one, and the password is everything in between.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || UserSpecError(s.to_owned());
        let (name, rest) = s.split_once(':').ok_or_else(bad)?;
        let (password, key) = rest.rsplit_once(':').ok_or_else(bad)?;
        if name.is_empty() || key.is_empty() {
            return Err(bad());
        }
        Ok(User {
            name: name.to_owned(),
            password: Some(password.to_owned()),
            api_key: key.to_owned(),
        })
    }
}

/// Every administrator the simulator knows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Users(Vec<User>);

impl Users {
    pub(crate) fn add(&mut self, user: User) {
        // A later account with the same name or key replaces the earlier one.
        self.0
            .retain(|u| u.name != user.name && u.api_key != user.api_key);
        self.0.push(user);
    }

    pub(crate) fn by_key(&self, key: &str) -> Option<&User> {
        self.0.iter().find(|u| u.api_key == key)
    }

    /// The account `type=keygen` with `user` and `password` opens.
    pub(crate) fn keygen(&self, user: &str, password: &str) -> Option<&User> {
        self.0
            .iter()
            .find(|u| u.name == user && u.password.as_deref() == Some(password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let u: User = "bob:p:a:ss:key".parse().expect("valid");
        assert_eq!(
            u,
            User {
                name: "bob".into(),
                password: Some("p:a:ss".into()),
                api_key: "key".into()
            }
        );
        let u: User = "bob::key".parse().expect("an empty password");
        assert_eq!(u.password.as_deref(), Some(""));
        for bad in ["bob", "bob:key", ":p:k", "bob:p:"] {
            assert!(bad.parse::<User>().is_err(), "{bad}");
        }
    }

    #[test]
    fn lookups() {
        let mut users = Users::default();
        users.add("a:pa:ka".parse().expect("valid"));
        users.add("b:pb:kb".parse().expect("valid"));
        users.add("a:pa2:ka2".parse().expect("valid"));
        assert_eq!(users.by_key("ka"), None);
        assert_eq!(users.by_key("ka2").map(|u| u.name.as_str()), Some("a"));
        assert_eq!(
            users.keygen("b", "pb").map(|u| u.api_key.as_str()),
            Some("kb")
        );
        assert!(users.keygen("b", "pa").is_none());
    }
}
