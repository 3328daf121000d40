//! `Engine::load`, step by step: read every rule text into documents, file
//! detection rules, correlations and filters under their ids and names,
//! attach filters, resolve correlation references (dropping correlations
//! whose references are missing, failed or cyclic), compile correlations and
//! link each rule to the correlations it feeds, and index rules by event
//! source.
//!
//! Every problem becomes a `LoadError` naming the file, document and field,
//! and only the rule at fault is left out. Nothing here evaluates events.

use std::collections::HashMap;

use crate::correlation;
use crate::detection::Detection;
use crate::error::LoadError;
use crate::event::{self, Field, FieldMap};
use crate::modifiers::Placeholders;
use crate::rule::{self, CorrelationSpec, Doc, DocKind, Level, RuleMeta};

use super::{
    CompiledCorrelation, CompiledRule, Engine, EngineConfig, FieldTarget, RuleInfo, RuleKind,
    SourceIndex, SourceMapping,
};

/// What a rule id or name refers to.
#[derive(Clone, Copy)]
enum Target {
    /// A detection rule, by index.
    Rule(usize),
    /// A correlation document, by index among the correlation documents.
    Corr(usize),
}

/// A Sigma filter document: the rules it names and its detection.
type Filter = (Doc, Vec<String>, Detection);

/// The rule set on its way to an `Engine`.
#[derive(Default)]
struct Build {
    rules: Vec<CompiledRule>,
    /// Correlation documents, in load order, until they are compiled.
    corr_docs: Vec<(Doc, CorrelationSpec)>,
    filters: Vec<Filter>,
    /// Rule ids and names; detection rules win over correlations of the same name.
    names: HashMap<String, Target>,
    errors: Vec<LoadError>,
}

/// The steps of `Engine::load`.
pub(super) fn load<N: AsRef<str>, T: AsRef<str>>(
    sources: &[(N, T)],
    config: EngineConfig,
) -> (Engine, Vec<LoadError>) {
    let mut build = Build::default();
    let docs = build.read(sources, &config.placeholders);
    build.file(docs);
    build.name_correlations();
    build.attach_filters();
    let correlations = build.compile_correlations(&config.state_prefix);
    let Build { rules, errors, .. } = build;
    let engine = Engine {
        sources: index_sources(&config.sources, &rules),
        all_rules: (0..rules.len()).collect(),
        config,
        rules,
        correlations,
    };
    (engine, errors)
}

impl Build {
    /// Reads every document of every source.
    fn read<N: AsRef<str>, T: AsRef<str>>(
        &mut self,
        sources: &[(N, T)],
        placeholders: &Placeholders,
    ) -> Vec<Doc> {
        let mut docs = Vec::new();
        for (name, text) in sources {
            let (d, e) = rule::read_source(name.as_ref(), text.as_ref(), placeholders);
            docs.extend(d);
            self.errors.extend(e);
        }
        docs
    }

    /// Files each document by kind, refusing a Sigma `id` used twice;
    /// detection rules take their ids and names at once.
    fn file(&mut self, docs: Vec<Doc>) {
        let mut ids_seen: HashMap<String, String> = HashMap::new();
        for doc in docs {
            if let Some(prev) = doc.meta.id.as_ref().and_then(|i| ids_seen.get(i)) {
                let msg = format!(
                    "id {} is already used by a rule in {prev}",
                    effective_id(&doc.meta)
                );
                self.errors.push(load_error(&doc, Some("id"), msg));
                continue;
            }
            if let Some(i) = &doc.meta.id {
                ids_seen.insert(i.clone(), doc.source.clone());
            }
            match doc.kind.clone() {
                DocKind::Detection(detection) => self.add_detection(doc, detection),
                DocKind::Correlation(spec) => self.corr_docs.push((doc, spec)),
                DocKind::Filter { rules, detection } => self.filters.push((doc, rules, detection)),
            }
        }
    }

    /// Adds a detection rule, reporting its matches until a correlation says otherwise.
    fn add_detection(&mut self, doc: Doc, detection: Detection) {
        register(&mut self.names, &doc.meta, Target::Rule(self.rules.len()));
        self.rules.push(CompiledRule {
            info: RuleInfo {
                id: effective_id(&doc.meta),
                kind: RuleKind::Detection,
                level: doc.meta.level.unwrap_or(Level::Medium),
                meta: doc.meta,
                source: doc.source,
                document: doc.document,
                line: doc.line,
                emits: true,
            },
            detection,
            filters: Vec::new(),
            parents: Vec::new(),
        });
    }

    /// Names the correlations, after every detection rule is named.
    fn name_correlations(&mut self) {
        for (i, (doc, _)) in self.corr_docs.iter().enumerate() {
            register(&mut self.names, &doc.meta, Target::Corr(i));
        }
    }

    /// Gives each filter's detection to the detection rules it names.
    fn attach_filters(&mut self) {
        for (doc, targets, detection) in std::mem::take(&mut self.filters) {
            for t in targets {
                let problem = match self.names.get(&t) {
                    Some(Target::Rule(r)) => {
                        self.rules[*r].filters.push(detection.clone());
                        continue;
                    }
                    Some(Target::Corr(_)) => {
                        format!("'{t}' is a correlation rule; filters apply to detection rules")
                    }
                    None => format!("no loaded rule has the id or name '{t}'"),
                };
                self.errors
                    .push(load_error(&doc, Some("filter.rules"), problem));
            }
        }
    }

    /// Compiles the correlations that can load, links every rule to the
    /// correlations it feeds, and settles which rules report matches.
    fn compile_correlations(&mut self, state_prefix: &str) -> Vec<CompiledCorrelation> {
        let refs = self.resolve_references();
        let index = self.number_loadable(&refs);
        let mut correlations: Vec<CompiledCorrelation> = Vec::new();
        for (i, (doc, spec)) in self.corr_docs.iter().enumerate() {
            if let (Some(_), Some(refs)) = (index[i], &refs[i]) {
                correlations.push(self.compile_correlation(doc, spec, refs, state_prefix));
            }
        }
        self.link(&mut correlations, &refs, &index);
        correlations
    }

    /// Each correlation's references as targets; `None` (with an error) when
    /// one of them names no loaded rule.
    fn resolve_references(&mut self) -> Vec<Option<Vec<Target>>> {
        let mut resolved = Vec::with_capacity(self.corr_docs.len());
        for (doc, spec) in &self.corr_docs {
            let mut refs = Vec::new();
            let mut ok = true;
            for r in &spec.rules {
                match self.names.get(r) {
                    Some(t) => refs.push(*t),
                    None => {
                        ok = false;
                        self.errors.push(load_error(
                            doc,
                            Some("correlation.rules"),
                            format!("no loaded rule has the id or name '{r}'"),
                        ));
                    }
                }
            }
            resolved.push(ok.then_some(refs));
        }
        resolved
    }

    /// The index each loadable correlation will have among the compiled
    /// ones. A correlation loads when all its references resolve to detection
    /// rules or to correlations that load; one built on a failed or cyclic
    /// correlation is reported and left out.
    fn number_loadable(&mut self, refs: &[Option<Vec<Target>>]) -> Vec<Option<usize>> {
        let valid = loadable(refs);
        let mut index = vec![None; refs.len()];
        let mut next = 0;
        for i in 0..refs.len() {
            if valid[i] {
                index[i] = Some(next);
                next += 1;
            } else if refs[i].is_some() {
                self.errors.push(load_error(
                    &self.corr_docs[i].0,
                    Some("correlation.rules"),
                    "refers to a correlation that did not load or refers back to this one"
                        .to_string(),
                ));
            }
        }
        index
    }

    /// One correlation, with its fields read through its aliases and its
    /// level defaulting to the highest of the detection rules it references.
    fn compile_correlation(
        &self,
        doc: &Doc,
        spec: &CorrelationSpec,
        refs: &[Target],
        state_prefix: &str,
    ) -> CompiledCorrelation {
        let mut group_fields = Vec::with_capacity(refs.len());
        let mut value_fields = Vec::with_capacity(refs.len());
        for t in refs {
            let keys = self.keys_of(*t);
            let field_for = |f: &String| {
                let aliased = spec
                    .aliases
                    .get(f)
                    .and_then(|per| keys.iter().find_map(|k| per.get(k)))
                    .unwrap_or(f);
                Field::new(aliased)
            };
            group_fields.push(spec.group_by.iter().map(field_for).collect());
            value_fields.push(spec.fields.iter().map(field_for).collect());
        }
        let highest = refs
            .iter()
            .filter_map(|t| match t {
                Target::Rule(r) => Some(self.rules[*r].info.level),
                Target::Corr(_) => None,
            })
            .max();
        let id = effective_id(&doc.meta);
        CompiledCorrelation {
            info: RuleInfo {
                id: id.clone(),
                kind: RuleKind::Correlation(spec.kind),
                level: doc.meta.level.or(highest).unwrap_or(Level::Medium),
                meta: doc.meta.clone(),
                source: doc.source.clone(),
                document: doc.document,
                line: doc.line,
                emits: true,
            },
            kind: spec.kind,
            n_rules: refs.len(),
            group_by: spec.group_by.clone(),
            group_fields,
            value_fields,
            span: spec.timespan_ms,
            condition: spec.condition.clone(),
            monotone: correlation::is_monotone(spec.kind, &spec.condition),
            key_prefix: window_prefix(state_prefix, &id),
            parents: Vec::new(),
        }
    }

    /// The id and name of a referenced rule, which aliases are keyed by.
    fn keys_of(&self, t: Target) -> Vec<String> {
        let m = match t {
            Target::Rule(r) => &self.rules[r].info.meta,
            Target::Corr(c) => &self.corr_docs[c].0.meta,
        };
        [&m.id, &m.name].into_iter().flatten().cloned().collect()
    }

    /// Points every referenced rule and correlation at the correlations that
    /// reference it; one referenced only by correlations without
    /// `generate: true` reports no matches of its own.
    fn link(
        &mut self,
        correlations: &mut [CompiledCorrelation],
        refs: &[Option<Vec<Target>>],
        index: &[Option<usize>],
    ) {
        let mut rule_generates: Vec<Option<bool>> = vec![None; self.rules.len()];
        let mut corr_generates: Vec<Option<bool>> = vec![None; correlations.len()];
        for (i, (_, spec)) in self.corr_docs.iter().enumerate() {
            let (Some(ci), Some(refs)) = (index[i], &refs[i]) else {
                continue;
            };
            for (pos, t) in refs.iter().enumerate() {
                let (parents, generates) = match *t {
                    Target::Rule(r) => (&mut self.rules[r].parents, &mut rule_generates[r]),
                    Target::Corr(c) => {
                        let Some(c) = index[c] else { continue };
                        (&mut correlations[c].parents, &mut corr_generates[c])
                    }
                };
                parents.push((ci, pos));
                *generates = Some(generates.unwrap_or(false) || spec.generate);
            }
        }
        for (rule, generates) in self.rules.iter_mut().zip(rule_generates) {
            rule.info.emits = generates.unwrap_or(rule.info.emits);
        }
        for (c, generates) in correlations.iter_mut().zip(corr_generates) {
            c.info.emits = generates.unwrap_or(c.info.emits);
        }
    }
}

/// Which correlations can load: a fixed point over their references (a
/// correlation whose references are unresolved, or reach back to itself,
/// never becomes loadable).
fn loadable(refs: &[Option<Vec<Target>>]) -> Vec<bool> {
    let mut valid = vec![false; refs.len()];
    loop {
        let mut changed = false;
        for i in 0..refs.len() {
            if valid[i] {
                continue;
            }
            if let Some(targets) = &refs[i]
                && targets.iter().all(|t| match t {
                    Target::Rule(_) => true,
                    Target::Corr(c) => valid[*c],
                })
            {
                valid[i] = true;
                changed = true;
            }
        }
        if !changed {
            return valid;
        }
    }
}

/// For each configured source: its field mapping, split into paths, and the
/// detection rules whose `logsource` fits it.
fn index_sources(
    sources: &[SourceMapping],
    rules: &[CompiledRule],
) -> HashMap<String, SourceIndex> {
    let mut index = HashMap::new();
    for s in sources {
        let map: FieldMap = s
            .fields
            .iter()
            .map(|(k, v)| {
                let paths = match v {
                    FieldTarget::One(p) => vec![event::split_path(p)],
                    FieldTarget::Many(ps) => ps.iter().map(|p| event::split_path(p)).collect(),
                };
                (k.clone(), paths)
            })
            .collect();
        let applicable = (0..rules.len())
            .filter(|&r| rules[r].info.meta.logsource.applies_to(&s.logsource))
            .collect();
        index.insert(
            s.source.clone(),
            SourceIndex {
                map,
                rules: applicable,
            },
        );
    }
    index
}

/// Registers a rule's id and name, unless an earlier rule took them.
fn register(names: &mut HashMap<String, Target>, meta: &RuleMeta, target: Target) {
    for key in [&meta.id, &meta.name].into_iter().flatten() {
        names.entry(key.clone()).or_insert(target);
    }
}

/// The identifier reported in matches: the Sigma `id`, else `name`, else the title.
fn effective_id(meta: &RuleMeta) -> String {
    meta.id
        .clone()
        .or_else(|| meta.name.clone())
        .unwrap_or_else(|| meta.title.clone())
}

/// `{state_prefix}/w/{id}/`, with `%` and `/` in the id escaped.
fn window_prefix(state_prefix: &str, id: &str) -> String {
    let id = id.replace('%', "%25").replace('/', "%2F");
    format!("{state_prefix}/w/{id}/")
}

fn load_error(doc: &Doc, field: Option<&str>, message: String) -> LoadError {
    LoadError {
        file: doc.source.clone(),
        document: doc.document,
        line: doc.line,
        title: Some(doc.meta.title.clone()),
        field: field.map(str::to_string),
        message,
    }
}
