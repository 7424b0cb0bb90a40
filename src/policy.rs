//! The workspace's verification policy: `[workspace.metadata.xtest]` in the workspace Cargo.toml,
//! or an `xtest.toml` beside it (not both).
//!
//! ```toml
//! [workspace.metadata.xtest]
//! targets = ["host", "aarch64-unknown-linux-gnu"]   # default targets ("host" = this host)
//!
//! [workspace.metadata.xtest.target.s390x-unknown-linux-gnu]
//! require = "test"                                   # failing to reach this level is a failure
//! exclude = { simd = "uses x86 intrinsics" }         # package = reason
//! skip = { "tests::le_only" = "little-endian format", "proptests::*" = "slow under QEMU" }
//! ```
//!
//! A skip names a test exactly, or by a pattern where `*` stands for any run of characters
//! (patterns apply to test binaries; doctests are skipped by exact name).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Context, Error, Result};
use crate::level::Level;

/// The reason `test` is skipped, if a skip names it exactly or by a `*` pattern (exact names
/// first, then the first matching pattern in order).
pub(crate) fn skip_reason<'a>(skips: &'a BTreeMap<String, String>, test: &str) -> Option<&'a str> {
    skips.get(test).map(String::as_str).or_else(|| {
        skips
            .iter()
            .find(|(pattern, _)| pattern.contains('*') && glob_match(pattern, test))
            .map(|(_, reason)| reason.as_str())
    })
}

/// `*` matches any run of characters (also none); everything else matches itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == text;
    }
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Policy {
    /// Default targets; `host` stands for the host triple.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Per-target rules, keyed by triple (or `host`).
    #[serde(default)]
    pub target: BTreeMap<String, TargetPolicy>,
    /// Named groups of triples (`host` allowed), selectable as `--target NAME`.
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
    /// Where the policy was read from, for messages.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetPolicy {
    pub require: Option<Level>,
    #[serde(default)]
    pub exclude: BTreeMap<String, String>,
    #[serde(default)]
    pub skip: BTreeMap<String, String>,
    /// `true`: this target's tests are built by cargo-miri and interpreted by Miri, as under
    /// `--miri` (which interprets every target's); `false`: never, even under `--miri`.
    pub miri: Option<bool>,
}

impl Policy {
    /// Reads the policy of the workspace rooted at `root`, whose `[workspace.metadata]` is given.
    pub(crate) fn load(root: &Path, workspace_metadata: &serde_json::Value) -> Result<Self> {
        let file = root.join("xtest.toml");
        let in_manifest = workspace_metadata.get("xtest");
        let manifest = root.join("Cargo.toml");
        match (file.is_file(), in_manifest) {
            (true, Some(_)) => Err(Error::bad_input(format!(
                "policy defined twice: in {} and in [workspace.metadata.xtest] of {}; keep one",
                file.display(),
                manifest.display()
            ))),
            (true, None) => {
                let text = std::fs::read_to_string(&file)
                    .or_bad_input(|| format!("cannot read policy {}", file.display()))?;
                Policy::parse(&text, &file)
            }
            (false, Some(v)) => {
                let mut p: Policy = serde_path_to_error::deserialize(v)
                    .map_err(|e| malformed(&manifest, "[workspace.metadata.xtest] ", &e))?;
                p.source = Some(manifest);
                Ok(p)
            }
            (false, None) => Ok(Policy::default()),
        }
    }

    /// A policy file's text (`file` names it in errors and as the source).
    pub(crate) fn parse(text: &str, file: &Path) -> Result<Self> {
        let de = toml::Deserializer::parse(text).map_err(|e| malformed(file, "", &e))?;
        let mut p: Policy =
            serde_path_to_error::deserialize(de).map_err(|e| malformed(file, "", &e))?;
        p.source = Some(file.to_path_buf());
        Ok(p)
    }

    /// The rules for `triple`; `host` rules apply to the host triple.
    pub(crate) fn for_target(&self, triple: &str, host: &str) -> TargetPolicy {
        let mut rules = self.target.get(triple).cloned().unwrap_or_default();
        if triple == host
            && let Some(h) = self.target.get("host")
        {
            rules.require = rules.require.or(h.require);
            rules.miri = rules.miri.or(h.miri);
            rules.exclude.extend(h.exclude.clone());
            rules.skip.extend(h.skip.clone());
        }
        rules
    }

    /// Checks triples and package names against what rustc and the workspace know.
    pub(crate) fn validate(
        &self,
        known_triple: impl Fn(&str) -> Result<()>,
        has_package: impl Fn(&str) -> bool,
    ) -> Result<()> {
        let where_ = self
            .source
            .as_deref()
            .map(|p| format!(" (policy in {})", p.display()))
            .unwrap_or_default();
        for (name, members) in &self.groups {
            if name == "host" || name == "all" || known_triple(name).is_ok() {
                return Err(Error::bad_input(format!(
                    "policy group `{name}` is named like a target; give it another name{where_}"
                )));
            }
            for t in members.iter().filter(|t| *t != "host" && *t != "all") {
                known_triple(t).map_err(|e| {
                    Error::bad_input(format!("{} (in group `{name}`){where_}", e.render()))
                })?;
            }
        }
        let is_group = |t: &str| t == "all" || self.groups.contains_key(t);
        for t in self.targets.iter().filter(|t| !is_group(t)) {
            if t != "host" {
                known_triple(t).map_err(|e| Error::bad_input(format!("{}{where_}", e.render())))?;
            }
        }
        for t in self.target.keys().filter(|t| *t != "host") {
            if is_group(t) {
                // Rules apply to a triple: under a group name they would silently do nothing.
                return Err(Error::bad_input(format!(
                    "policy rules under [target.{t}] name a group; give them per triple{where_}"
                )));
            }
            known_triple(t).map_err(|e| Error::bad_input(format!("{}{where_}", e.render())))?;
        }
        for (triple, rules) in &self.target {
            for pkg in rules.exclude.keys() {
                if !has_package(pkg) {
                    return Err(Error::bad_input(format!(
                        "policy for {triple} excludes `{pkg}`, which is not a workspace member{where_}"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn malformed(path: &Path, section: &str, e: &dyn std::fmt::Display) -> Error {
    Error::bad_input(format!(
        "malformed policy in {section}{}: {}",
        path.display(),
        crate::discover::cargo_config::one_line(&e.to_string())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_match_exact_names_and_star_patterns() {
        let skips: BTreeMap<String, String> = [
            ("tests::exact", "e"),
            ("proptests::*", "slow"),
            ("*::huge_*_case", "big"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(skip_reason(&skips, "tests::exact"), Some("e"));
        assert_eq!(skip_reason(&skips, "tests::exactly"), None);
        assert_eq!(skip_reason(&skips, "proptests::roundtrip"), Some("slow"));
        assert_eq!(skip_reason(&skips, "proptests::"), Some("slow"));
        assert_eq!(skip_reason(&skips, "a::proptests::x"), None);
        assert_eq!(skip_reason(&skips, "m::huge_u64_case"), Some("big"));
        assert_eq!(skip_reason(&skips, "m::huge_case"), None);
        assert!(glob_match("a*b*c", "abc") && glob_match("a*b*c", "aXbYc"));
        assert!(!glob_match("a*b*c", "acb") && !glob_match("ab*ba", "aba"));
    }

    fn from_json(v: serde_json::Value) -> Result<Policy> {
        let dir = tempfile::tempdir().unwrap();
        Policy::load(dir.path(), &serde_json::json!({ "xtest": v }))
    }

    #[test]
    fn parses_rules_and_merges_host_alias() {
        let p = from_json(serde_json::json!({
            "targets": ["host", "s390x-unknown-linux-gnu"],
            "target": {
                "s390x-unknown-linux-gnu": {"require": "build-tests", "exclude": {"simd": "x86 only"}},
                "host": {"skip": {"slow": "too slow"}}
            }
        }))
        .unwrap();
        let s = p.for_target("s390x-unknown-linux-gnu", "x86_64-unknown-linux-gnu");
        assert_eq!(s.require, Some(Level::BuildTests));
        assert_eq!(s.exclude["simd"], "x86 only");
        let h = p.for_target("x86_64-unknown-linux-gnu", "x86_64-unknown-linux-gnu");
        assert_eq!(h.skip["slow"], "too slow");
    }

    #[test]
    fn unknown_fields_and_levels_are_one_line_errors_with_a_path() {
        let e = from_json(
            serde_json::json!({"target": {"s390x-unknown-linux-gnu": {"requre": "test"}}}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("malformed policy"), "{e}");
        assert!(e.contains("requre"), "{e}");
        assert!(e.contains("target.s390x-unknown-linux-gnu"), "{e}");
        let e = from_json(serde_json::json!({"target": {"host": {"require": "tests"}}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("tests"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn groups_are_checked_like_targets() {
        let known = |t: &str| {
            if t.ends_with("-linux-gnu") {
                Ok(())
            } else {
                Err(Error::bad_input(format!("unknown target triple `{t}`")))
            }
        };
        let ok = from_json(serde_json::json!({
            "targets": ["big"],
            "groups": {"big": ["host", "s390x-unknown-linux-gnu"]},
        }))
        .unwrap();
        ok.validate(known, |_| true).unwrap();
        let rules_on_group = from_json(serde_json::json!({
            "groups": {"big": ["s390x-unknown-linux-gnu"]},
            "target": {"big": {"require": "test"}}
        }))
        .unwrap();
        let e = rules_on_group
            .validate(known, |_| true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[target.big] name a group"), "{e}");
        let bad_member = from_json(serde_json::json!({"groups": {"big": ["s390x-nope"]}})).unwrap();
        let e = bad_member
            .validate(known, |_| true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`s390x-nope`") && e.contains("in group `big`"),
            "{e}"
        );
        let shadowing =
            from_json(serde_json::json!({"groups": {"s390x-unknown-linux-gnu": []}})).unwrap();
        let e = shadowing.validate(known, |_| true).unwrap_err().render();
        assert!(e.contains("named like a target"), "{e}");
    }

    #[test]
    fn xtest_toml_is_read_and_conflicts_with_manifest_policy() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("xtest.toml"),
            "targets = [\"host\"]\n[target.host]\nrequire = \"test\"\n",
        )
        .unwrap();
        let p = Policy::load(dir.path(), &serde_json::Value::Null).unwrap();
        assert_eq!(p.targets, ["host"]);
        let e = Policy::load(dir.path(), &serde_json::json!({"xtest": {}})).unwrap_err();
        assert!(e.to_string().contains("policy defined twice"));
        std::fs::write(dir.path().join("xtest.toml"), "targets = \"host\"\n").unwrap();
        let e = Policy::load(dir.path(), &serde_json::Value::Null)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("malformed policy in"), "{e}");
    }
}
