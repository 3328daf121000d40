//! Builders for what `describe` returns: the plugin, its rules and settings.

use crate::{ComplianceRef, PluginInfo, Remediation, RuleInfo, SettingInfo, Severity};

impl PluginInfo {
    /// A plugin with no description, rules or settings yet. `name` and
    /// `version` must not be empty: the host refuses a plugin without them.
    pub fn new(name: &str, version: &str) -> Self {
        PluginInfo {
            name: name.to_string(),
            version: version.to_string(),
            description: String::new(),
            rules: Vec::new(),
            settings: Vec::new(),
        }
    }

    /// What the plugin does, for people; empty unless set.
    pub fn description(mut self, text: &str) -> Self {
        self.description = text.to_string();
        self
    }

    /// Declare a rule; ids must be unique within the plugin.
    pub fn rule(mut self, rule: RuleInfo) -> Self {
        self.rules.push(rule);
        self
    }

    /// Declare a setting; `kind` is the JSON type the value must have
    /// (`string`, `number`, `boolean`, `array`, `object` or `any`).
    pub fn setting(mut self, name: &str, kind: &str, required: bool, description: &str) -> Self {
        self.settings.push(SettingInfo {
            name: name.to_string(),
            description: description.to_string(),
            required,
            kind: kind.to_string(),
        });
        self
    }
}

impl RuleInfo {
    /// A rule of every resource type (`*`) with no description, compliance
    /// mappings, remediation, tags or declared reads yet.
    pub fn new(id: &str, title: &str, severity: Severity) -> Self {
        RuleInfo {
            id: id.to_string(),
            title: title.to_string(),
            description: String::new(),
            severity,
            resource_types: vec!["*".to_string()],
            compliance: Vec::new(),
            remediation: Remediation {
                guidance: String::new(),
                console: None,
                cli: None,
                references: Vec::new(),
            },
            tags: Vec::new(),
            reads: Vec::new(),
        }
    }

    /// What the rule checks and why it matters, for people.
    pub fn description(mut self, text: &str) -> Self {
        self.description = text.to_string();
        self
    }

    /// Resource types the rule reads: exact, `prefix*` or `*`.
    pub fn resource_types<const N: usize>(mut self, types: [&str; N]) -> Self {
        self.resource_types = types.iter().map(|t| t.to_string()).collect();
        self
    }

    /// Map the rule to a control of a compliance framework (e.g. `cis-aws`,
    /// `5.0.0`, `3.1`); call once per control. Compliance reports use these.
    pub fn compliance(mut self, framework: &str, version: &str, control: &str) -> Self {
        self.compliance.push(ComplianceRef {
            framework: framework.to_string(),
            version: version.to_string(),
            control: control.to_string(),
        });
        self
    }

    /// How to fix a failure, and links that explain it; replaces earlier
    /// guidance and references (the console and CLI steps stay unset).
    pub fn remediation(mut self, guidance: &str, references: &[&str]) -> Self {
        self.remediation.guidance = guidance.to_string();
        self.remediation.references = references.iter().map(|r| r.to_string()).collect();
        self
    }

    /// Body paths the rule reads (`versioning.status`, `rules[].sse_algorithm`).
    /// Declaring them lets Stance report `error` only for the rules whose data
    /// could not be collected; without them, any missing field makes the
    /// rule's result on that asset an `error`.
    pub fn reads<const N: usize>(mut self, paths: [&str; N]) -> Self {
        self.reads = paths.iter().map(|p| p.to_string()).collect();
        self
    }

    /// Free-form labels for filtering and reports; replaces earlier tags.
    pub fn tags<const N: usize>(mut self, tags: [&str; N]) -> Self {
        self.tags = tags.iter().map(|t| t.to_string()).collect();
        self
    }
}
