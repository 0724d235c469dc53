//! Every input has a maximum, checked in one place before an operation runs, the same on every
//! database: each argument of each field the document selects (literal or variable, nested
//! input objects and lists included) is walked against its type in the schema, and
//!
//! - a `String` or `ID` longer than its limit (characters, or bytes for texts bounded by the
//!   document size), a list with more items than its limit, or a `JSON` value larger than its
//!   limit (bytes, as JSON) is `BAD_USER_INPUT` naming the field;
//! - U+0000 anywhere in a string (or a JSON key or string) is `BAD_USER_INPUT`: PostgreSQL
//!   cannot store it, and no text needs it;
//! - a quoted string written where an enum is expected (`role: "OWNER"`) is `BAD_USER_INPUT`
//!   (in variables, JSON strings are how enums travel, and stay accepted).
//!
//! The limits are [`LIMITS`] (by `InputType.field` or `ParentType.field.argument`), and the
//! defaults for everything else: [`DEFAULT_CHARS`], [`DEFAULT_ID_CHARS`], [`DEFAULT_ITEMS`],
//! [`DEFAULT_JSON_BYTES`]. Each selection set is walked once (a fragment where it is defined,
//! not where it is spread), so the cost follows the document's size.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use async_graphql::Variables;
use async_graphql::parser::types::{BaseType, ExecutableDocument, Selection, SelectionSet, Type, TypeKind};
use async_graphql_value::{ConstValue, Name, Value};

/// Characters of a `String` input without a limit of its own.
pub const DEFAULT_CHARS: usize = 1_000;
/// Characters of an `ID` (UUIDs have 36).
pub const DEFAULT_ID_CHARS: usize = 100;
/// Items of a list input without a limit of its own.
pub const DEFAULT_ITEMS: usize = 1_000;
/// Bytes of a `JSON` input without a limit of its own.
pub const DEFAULT_JSON_BYTES: usize = 64 * 1024;

/// The maximum of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Characters (of the trimmed text).
    Chars(usize),
    /// UTF-8 bytes, as large as the largest document (`NISHAN_MAX_DOCUMENT_BYTES`).
    DocumentBytes,
    /// UTF-8 bytes of an import: four times the largest document.
    ImportBytes,
    /// Items of a list of strings, and characters of each item.
    List { items: usize, chars: usize },
    /// Items of a list of input objects (each checked field by field).
    Items(usize),
    /// Bytes of a JSON value, serialised.
    JsonBytes(usize),
}

/// The inputs with limits of their own (the domain's own rules, where it has them, agree).
pub const LIMITS: &[(&str, Limit)] = &[
    ("RegisterInput.username", Limit::Chars(50)),
    ("RegisterInput.email", Limit::Chars(254)),
    ("RegisterInput.password", Limit::Chars(1_024)),
    ("RegisterInput.firstName", Limit::Chars(100)),
    ("RegisterInput.lastName", Limit::Chars(100)),
    ("LoginInput.usernameOrEmail", Limit::Chars(254)),
    ("LoginInput.password", Limit::Chars(1_024)),
    ("ChangePasswordInput.currentPassword", Limit::Chars(1_024)),
    ("ChangePasswordInput.newPassword", Limit::Chars(1_024)),
    ("UpdateMeInput.firstName", Limit::Chars(100)),
    ("UpdateMeInput.lastName", Limit::Chars(100)),
    ("UpdateMeInput.bio", Limit::Chars(5_000)),
    ("UpdateMeInput.researchInterests", Limit::List { items: 50, chars: 100 }),
    ("UpdateMeInput.preferences", Limit::JsonBytes(16 * 1024)),
    ("UpdateMeInput.institution", Limit::Chars(200)),
    ("UpdateMeInput.academicTitle", Limit::Chars(100)),
    ("UpdateMeInput.researchFocus", Limit::Chars(2_000)),
    ("UpdateMeInput.avatarUrl", Limit::Chars(500)),
    ("UpdateMeInput.website", Limit::Chars(500)),
    ("UpdateMeInput.orcid", Limit::Chars(19)),
    ("UpdateMeInput.location", Limit::Chars(200)),
    ("UpdateMeInput.languages", Limit::List { items: 50, chars: 100 }),
    ("CreateProjectInput.name", Limit::Chars(200)),
    ("CreateProjectInput.description", Limit::Chars(10_000)),
    ("CreateProjectInput.researchArea", Limit::Chars(200)),
    ("CreateProjectInput.methodology", Limit::Chars(10_000)),
    ("CreateProjectInput.objectives", Limit::Chars(10_000)),
    ("CreateProjectInput.timeline", Limit::Chars(2_000)),
    ("CreateProjectInput.tags", Limit::List { items: 100, chars: 500 }),
    ("CreateProjectInput.references", Limit::List { items: 100, chars: 500 }),
    ("UpdateProjectInput.name", Limit::Chars(200)),
    ("UpdateProjectInput.description", Limit::Chars(10_000)),
    ("UpdateProjectInput.researchArea", Limit::Chars(200)),
    ("UpdateProjectInput.methodology", Limit::Chars(10_000)),
    ("UpdateProjectInput.objectives", Limit::Chars(10_000)),
    ("UpdateProjectInput.timeline", Limit::Chars(2_000)),
    ("UpdateProjectInput.tags", Limit::List { items: 100, chars: 500 }),
    ("UpdateProjectInput.references", Limit::List { items: 100, chars: 500 }),
    ("CreateDocumentInput.title", Limit::Chars(300)),
    ("CreateDocumentInput.content", Limit::DocumentBytes),
    ("CreateDocumentInput.language", Limit::Chars(35)),
    ("CreateDocumentInput.tags", Limit::List { items: 100, chars: 100 }),
    ("UpdateDocumentInput.title", Limit::Chars(300)),
    ("UpdateDocumentInput.language", Limit::Chars(35)),
    ("UpdateDocumentInput.tags", Limit::List { items: 100, chars: 100 }),
    ("UpdateDocumentInput.metadata", Limit::JsonBytes(64 * 1024)),
    ("UpdateDocumentInput.notes", Limit::Chars(10_000)),
    ("Mutation.uploadDocument.title", Limit::Chars(300)),
    ("Mutation.uploadDocument.language", Limit::Chars(35)),
    ("Mutation.uploadDocument.tags", Limit::List { items: 100, chars: 100 }),
    ("Mutation.uploadArchive.language", Limit::Chars(35)),
    ("Mutation.uploadArchive.tags", Limit::List { items: 100, chars: 100 }),
    ("Mutation.updateDocumentContent.content", Limit::DocumentBytes),
    ("Mutation.updateDocumentContent.changeSummary", Limit::Chars(1_000)),
    ("CreateEntityInput.notes", Limit::Chars(5_000)),
    ("UpdateEntityInput.notes", Limit::Chars(5_000)),
    ("CreateEntityRelationshipInput.notes", Limit::Chars(5_000)),
    ("Mutation.verifyEntity.notes", Limit::Chars(5_000)),
    ("Mutation.verifyEntities.ids", Limit::List { items: 1_000, chars: DEFAULT_ID_CHARS }),
    ("Mutation.deleteEntity.reason", Limit::Chars(2_000)),
    ("Mutation.annotateAllOccurrences.text", Limit::Chars(200)),
    ("CreateEntityTypeInput.name", Limit::Chars(50)),
    ("CreateEntityTypeInput.displayName", Limit::Chars(100)),
    ("CreateEntityTypeInput.description", Limit::Chars(2_000)),
    ("CreateEntityTypeInput.color", Limit::Chars(7)),
    ("CreateEntityTypeInput.examples", Limit::List { items: 500, chars: 200 }),
    ("UpdateEntityTypeInput.name", Limit::Chars(50)),
    ("UpdateEntityTypeInput.displayName", Limit::Chars(100)),
    ("UpdateEntityTypeInput.description", Limit::Chars(2_000)),
    ("UpdateEntityTypeInput.color", Limit::Chars(7)),
    ("UpdateEntityTypeInput.examples", Limit::List { items: 500, chars: 200 }),
    ("CreateLlmModelInput.name", Limit::Chars(100)),
    ("CreateLlmModelInput.modelName", Limit::Chars(200)),
    ("CreateLlmModelInput.apiKey", Limit::Chars(1_000)),
    ("CreateLlmModelInput.apiBaseUrl", Limit::Chars(500)),
    ("CreateLlmModelInput.apiVersion", Limit::Chars(50)),
    ("UpdateLlmModelInput.name", Limit::Chars(100)),
    ("UpdateLlmModelInput.modelName", Limit::Chars(200)),
    ("UpdateLlmModelInput.apiKey", Limit::Chars(1_000)),
    ("UpdateLlmModelInput.apiBaseUrl", Limit::Chars(500)),
    ("UpdateLlmModelInput.apiVersion", Limit::Chars(50)),
    ("CreateProcessingConfigInput.name", Limit::Chars(100)),
    ("CreateProcessingConfigInput.description", Limit::Chars(2_000)),
    ("CreateProcessingConfigInput.entityTypeIds", Limit::List { items: 100, chars: DEFAULT_ID_CHARS }),
    ("CreateProcessingConfigInput.systemPrompt", Limit::Chars(20_000)),
    ("CreateProcessingConfigInput.userPromptTemplate", Limit::Chars(20_000)),
    ("CreateProcessingConfigInput.examples", Limit::Items(100)),
    ("CreateProcessingConfigInput.postProcessing", Limit::JsonBytes(16 * 1024)),
    ("ConfigExampleInput.text", Limit::Chars(1_000)),
    ("ConfigExampleInput.type", Limit::Chars(50)),
    ("Mutation.importEntities.data", Limit::ImportBytes),
    ("Mutation.importDocuments.data", Limit::ImportBytes),
    ("AuditLogFilter.actions", Limit::List { items: 100, chars: 100 }),
    ("AuditLogFilter.resourceTypes", Limit::List { items: 100, chars: 100 }),
    ("CreateKnowledgeItemInput.name", Limit::Chars(200)),
    ("CreateKnowledgeItemInput.aliases", Limit::List { items: 100, chars: 200 }),
    ("CreateKnowledgeItemInput.description", Limit::Chars(5_000)),
    ("CreateKnowledgeItemInput.attributes", Limit::JsonBytes(16 * 1024)),
    ("UpdateKnowledgeItemInput.name", Limit::Chars(200)),
    ("UpdateKnowledgeItemInput.aliases", Limit::List { items: 100, chars: 200 }),
    ("UpdateKnowledgeItemInput.description", Limit::Chars(5_000)),
    ("UpdateKnowledgeItemInput.attributes", Limit::JsonBytes(16 * 1024)),
    ("Mutation.createKnowledgeItemFromEntity.name", Limit::Chars(200)),
    ("Mutation.mergeKnowledgeItems.sourceIds", Limit::List { items: 100, chars: DEFAULT_ID_CHARS }),
    ("Mutation.reviewKnowledgeProposals.ids", Limit::List { items: 100, chars: DEFAULT_ID_CHARS }),
    ("Query.knowledgeItems.search", Limit::Chars(200)),
    ("Query.knowledgeCandidates.text", Limit::Chars(200)),
    ("SearchInput.query", Limit::Chars(500)),
    ("AskProjectInput.question", Limit::Chars(2_000)),
    ("SearchInput.entityTypeIds", Limit::List { items: 50, chars: DEFAULT_ID_CHARS }),
    ("SearchInput.documentIds", Limit::List { items: 100, chars: DEFAULT_ID_CHARS }),
    ("AgreementInput.annotatorIds", Limit::List { items: 100, chars: DEFAULT_ID_CHARS }),
    ("SearchInput.knowledgeItemIds", Limit::List { items: 50, chars: DEFAULT_ID_CHARS }),
];

/// The limit of the input `key` (`InputType.field`, `ParentType.field.argument`) of a value
/// of the named scalar type `scalar`.
pub fn limit_of(key: &str, scalar: &str) -> Limit {
    if let Some((_, limit)) = LIMITS.iter().find(|(k, _)| *k == key) {
        return *limit;
    }
    match scalar {
        "ID" => Limit::Chars(DEFAULT_ID_CHARS),
        "JSON" => Limit::JsonBytes(DEFAULT_JSON_BYTES),
        _ => Limit::Chars(DEFAULT_CHARS),
    }
}

/// A type reference: a named type or a list.
#[derive(Debug, Clone)]
enum Ty {
    Named(String),
    List(Box<Ty>),
}

impl Ty {
    fn of(t: &Type) -> Self {
        match &t.base {
            BaseType::Named(n) => Self::Named(n.to_string()),
            BaseType::List(inner) => Self::List(Box::new(Self::of(inner))),
        }
    }

    fn named(&self) -> &str {
        match self {
            Self::Named(n) => n,
            Self::List(inner) => inner.named(),
        }
    }
}

/// The fields of an object or interface type: name → (arguments, the field's named type).
type OutputFields = HashMap<String, (HashMap<String, Ty>, String)>;

/// What the walk needs of the schema: fields with their arguments and types, input objects,
/// enums.
#[derive(Debug, Default)]
pub struct Shapes {
    /// Object and interface types: field → (arguments, the field's named type).
    outputs: HashMap<String, OutputFields>,
    inputs: HashMap<String, HashMap<String, Ty>>,
    enums: HashSet<String>,
}

impl Shapes {
    /// The shapes of the served schema (read from its SDL once).
    pub fn of_schema() -> &'static Shapes {
        static SHAPES: OnceLock<Shapes> = OnceLock::new();
        SHAPES.get_or_init(|| Self::from_sdl(&super::sdl()))
    }

    pub fn from_sdl(sdl: &str) -> Self {
        use async_graphql::parser::types::TypeSystemDefinition;
        let mut shapes = Self::default();
        let Ok(doc) = async_graphql::parser::parse_schema(sdl) else { return shapes };
        for def in doc.definitions {
            let TypeSystemDefinition::Type(t) = def else { continue };
            let name = t.node.name.node.to_string();
            let fields = match t.node.kind {
                TypeKind::Object(o) => o.fields,
                TypeKind::Interface(i) => i.fields,
                TypeKind::InputObject(i) => {
                    let fields = i.fields.iter().map(|f| (f.node.name.node.to_string(), Ty::of(&f.node.ty.node)));
                    shapes.inputs.insert(name, fields.collect());
                    continue;
                }
                TypeKind::Enum(_) => {
                    shapes.enums.insert(name);
                    continue;
                }
                _ => continue,
            };
            let fields = fields.iter().map(|f| {
                let args = f.node.arguments.iter().map(|a| (a.node.name.node.to_string(), Ty::of(&a.node.ty.node)));
                (f.node.name.node.to_string(), (args.collect(), Ty::of(&f.node.ty.node).named().to_owned()))
            });
            shapes.outputs.insert(name, fields.collect());
        }
        shapes
    }

    /// Every input position reachable from the arguments of the root fields, each once (by
    /// its key, through the first path that reaches it): what the limits apply to.
    pub fn input_positions(&self) -> Vec<InputPosition> {
        let mut out: Vec<InputPosition> = Vec::new();
        let mut roots: Vec<(&String, &OutputFields)> =
            ["Query", "Mutation", "Subscription"].iter().filter_map(|r| self.outputs.get_key_value(*r)).collect();
        roots.sort_by_key(|(name, _)| name.as_str());
        for (root, fields) in roots {
            let mut fields: Vec<_> = fields.iter().collect();
            fields.sort_by_key(|(name, _)| name.as_str());
            for (field, (args, _)) in fields {
                let mut args: Vec<_> = args.iter().collect();
                args.sort_by_key(|(name, _)| name.as_str());
                for (arg, ty) in args {
                    let at = InputPosition {
                        root: root.clone(),
                        field: field.clone(),
                        argument: arg.clone(),
                        path: Vec::new(),
                        key: format!("{root}.{field}.{arg}"),
                        scalar: String::new(),
                        list: false,
                    };
                    self.positions(at, ty, &mut out, &mut Vec::new());
                }
            }
        }
        out
    }

    fn positions(&self, at: InputPosition, ty: &Ty, out: &mut Vec<InputPosition>, seen: &mut Vec<String>) {
        let named = ty.named().to_owned();
        let list = matches!(ty, Ty::List(_));
        let here = InputPosition { scalar: named.clone(), list, ..at.clone() };
        if let Some(fields) = self.inputs.get(&named) {
            if list && !out.iter().any(|p| p.key == here.key) {
                out.push(here);
            }
            if seen.contains(&named) {
                return;
            }
            seen.push(named.clone());
            let mut fields: Vec<_> = fields.iter().collect();
            fields.sort_by_key(|(name, _)| name.as_str());
            for (field, ty) in fields {
                let mut path = at.path.clone();
                path.push(field.clone());
                let next = InputPosition { path, key: format!("{named}.{field}"), ..at.clone() };
                self.positions(next, ty, out, seen);
            }
            seen.pop();
        } else if (matches!(named.as_str(), "String" | "ID" | "JSON") || list) && !out.iter().any(|p| p.key == here.key)
        {
            out.push(here);
        }
    }
}

/// Where an input sits: the root field and argument that reach it, the input-object fields
/// on the way, its key in [`LIMITS`], and its named type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputPosition {
    pub root: String,
    pub field: String,
    pub argument: String,
    /// Input-object fields from the argument down to the input (empty: the argument itself).
    pub path: Vec<String>,
    pub key: String,
    /// The named type (`String`, `ID`, `JSON`, an enum, an input object for a list of them).
    pub scalar: String,
    pub list: bool,
}

impl InputPosition {
    /// The name an error gives for this input: the field, or the argument.
    pub fn name(&self) -> &str {
        self.path.last().unwrap_or(&self.argument)
    }
}

/// An input over its limit: the field it names and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub field: String,
    pub message: String,
}

/// The byte sizes the settings give the limits that follow the document size.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub document_bytes: usize,
}

/// Checks every argument the document passes, against its type and limit.
pub fn check(document: &ExecutableDocument, variables: &Variables, sizes: Sizes) -> Result<(), Refusal> {
    let walker = Walker { shapes: Shapes::of_schema(), variables, sizes };
    for (_, op) in document.operations.iter() {
        let root = match op.node.ty {
            async_graphql::parser::types::OperationType::Query => "Query",
            async_graphql::parser::types::OperationType::Mutation => "Mutation",
            async_graphql::parser::types::OperationType::Subscription => "Subscription",
        };
        walker.set(root, &op.node.selection_set.node)?;
    }
    for fragment in document.fragments.values() {
        walker.set(fragment.node.type_condition.node.on.node.as_str(), &fragment.node.selection_set.node)?;
    }
    Ok(())
}

struct Walker<'a> {
    shapes: &'a Shapes,
    variables: &'a Variables,
    sizes: Sizes,
}

/// A value as written in the document, or as sent in the variables.
#[derive(Clone, Copy)]
enum Input<'a> {
    Literal(&'a Value),
    Variable(&'a ConstValue),
}

impl<'a> Walker<'a> {
    fn set(&self, parent: &str, set: &'a SelectionSet) -> Result<(), Refusal> {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let def = self.shapes.outputs.get(parent).and_then(|fields| fields.get(f.node.name.node.as_str()));
                    if let Some((args, _)) = def {
                        for (name, value) in &f.node.arguments {
                            if let Some(ty) = args.get(name.node.as_str()) {
                                let key = format!("{parent}.{}.{}", f.node.name.node, name.node);
                                self.value(&key, name.node.as_str(), ty, Input::Literal(&value.node))?;
                            }
                        }
                    }
                    let child = def.map(|(_, ty)| ty.as_str()).unwrap_or("");
                    self.set(child, &f.node.selection_set.node)?;
                }
                Selection::InlineFragment(f) => {
                    let on = f.node.type_condition.as_ref().map(|c| c.node.on.node.as_str()).unwrap_or(parent);
                    self.set(on, &f.node.selection_set.node)?;
                }
                // Walked where it is defined.
                Selection::FragmentSpread(_) => {}
            }
        }
        Ok(())
    }

    fn value(&self, key: &str, name: &str, ty: &Ty, input: Input<'a>) -> Result<(), Refusal> {
        let refuse = |message: String| Err(Refusal { field: name.to_owned(), message });
        if let Input::Literal(Value::Variable(var)) = input {
            return match self.variables.get(var) {
                Some(v) => self.value(key, name, ty, Input::Variable(v)),
                None => Ok(()),
            };
        }
        if is_null(input) {
            return Ok(());
        }
        let scalar = ty.named();
        match ty {
            Ty::List(inner) => {
                let Some(items) = list(input) else {
                    // A single value where a list is expected is coerced to a list of one.
                    return self.value(key, name, inner, input);
                };
                let (max_items, max_chars) = match limit_of(key, scalar) {
                    Limit::List { items, chars } => (items, Some(chars)),
                    Limit::Items(items) => (items, None),
                    _ => (DEFAULT_ITEMS, None),
                };
                if items.len() > max_items {
                    return refuse(format!("must hold at most {max_items} items"));
                }
                for item in items {
                    match max_chars {
                        Some(chars) if matches!(**inner, Ty::Named(_)) && !self.shapes.inputs.contains_key(scalar) => {
                            self.text(name, item, Limit::Chars(chars))?
                        }
                        _ => self.value(key, name, inner, item)?,
                    }
                }
                Ok(())
            }
            Ty::Named(n) if self.shapes.inputs.contains_key(n) => {
                let fields = &self.shapes.inputs[n];
                for (field, value) in object(input) {
                    if let Some(ty) = fields.get(field) {
                        self.value(&format!("{n}.{field}"), field, ty, value)?;
                    }
                }
                Ok(())
            }
            Ty::Named(n) if self.shapes.enums.contains(n) => match input {
                Input::Literal(Value::String(_)) => {
                    refuse(format!("expects a {n} value, written without quotes; a string is not one"))
                }
                _ => Ok(()),
            },
            Ty::Named(n) if n == "JSON" => {
                let Limit::JsonBytes(max) = limit_of(key, n) else { return Ok(()) };
                let mut bytes = 0usize;
                json_walk(input, &mut bytes, &refuse)?;
                if bytes > max {
                    return refuse(format!("must be at most {max} bytes of JSON"));
                }
                Ok(())
            }
            Ty::Named(n) if n == "String" || n == "ID" => self.text(name, input, limit_of(key, n)),
            Ty::Named(_) => Ok(()),
        }
    }

    /// A string against a limit, and refused with U+0000.
    fn text(&self, name: &str, input: Input<'_>, limit: Limit) -> Result<(), Refusal> {
        let Some(s) = string(input) else { return Ok(()) };
        let refuse = |message: String| Err(Refusal { field: name.to_owned(), message });
        if s.contains('\0') {
            return refuse("must not contain U+0000 (NUL)".to_owned());
        }
        match limit {
            Limit::Chars(max) | Limit::List { chars: max, .. } => {
                // Cheap first: a text within `max` bytes is within `max` characters.
                if s.len() > max && s.trim().chars().count() > max {
                    return refuse(format!("must be at most {max} characters"));
                }
            }
            Limit::DocumentBytes | Limit::ImportBytes => {
                let max = match limit {
                    Limit::DocumentBytes => self.sizes.document_bytes,
                    _ => self.sizes.document_bytes.saturating_mul(nishan_domain::service::exchange::IMPORT_SIZE_FACTOR),
                };
                if s.len() > max {
                    return refuse(format!("is larger than the limit of {max} bytes"));
                }
            }
            Limit::JsonBytes(_) | Limit::Items(_) => {}
        }
        Ok(())
    }
}

fn is_null(input: Input<'_>) -> bool {
    matches!(input, Input::Literal(Value::Null) | Input::Variable(ConstValue::Null))
}

fn string<'a>(input: Input<'a>) -> Option<&'a str> {
    match input {
        Input::Literal(Value::String(s)) | Input::Variable(ConstValue::String(s)) => Some(s),
        _ => None,
    }
}

fn list<'a>(input: Input<'a>) -> Option<Vec<Input<'a>>> {
    match input {
        Input::Literal(Value::List(items)) => Some(items.iter().map(Input::Literal).collect()),
        Input::Variable(ConstValue::List(items)) => Some(items.iter().map(Input::Variable).collect()),
        _ => None,
    }
}

fn object<'a>(input: Input<'a>) -> Vec<(&'a str, Input<'a>)> {
    match input {
        Input::Literal(Value::Object(map)) => map.iter().map(|(k, v)| (k.as_str(), Input::Literal(v))).collect(),
        Input::Variable(ConstValue::Object(map)) => map.iter().map(|(k, v)| (k.as_str(), Input::Variable(v))).collect(),
        _ => Vec::new(),
    }
}

/// Sums the bytes of a JSON value and refuses U+0000 in its keys and strings.
fn json_walk<'a>(
    input: Input<'a>,
    bytes: &mut usize,
    refuse: &dyn Fn(String) -> Result<(), Refusal>,
) -> Result<(), Refusal> {
    let nul = |s: &str| if s.contains('\0') { refuse("must not contain U+0000 (NUL)".to_owned()) } else { Ok(()) };
    match input {
        Input::Literal(Value::String(s)) | Input::Variable(ConstValue::String(s)) => {
            nul(s)?;
            *bytes += s.len() + 2;
        }
        Input::Literal(Value::Object(_)) | Input::Variable(ConstValue::Object(_)) => {
            let keys: Vec<&Name> = match input {
                Input::Literal(Value::Object(m)) => m.keys().collect(),
                Input::Variable(ConstValue::Object(m)) => m.keys().collect(),
                _ => Vec::new(),
            };
            for k in keys {
                nul(k)?;
                *bytes += k.len() + 4;
            }
            for (_, v) in object(input) {
                json_walk(v, bytes, refuse)?;
            }
        }
        Input::Literal(Value::List(_)) | Input::Variable(ConstValue::List(_)) => {
            for v in list(input).unwrap_or_default() {
                *bytes += 1;
                json_walk(v, bytes, refuse)?;
            }
        }
        _ => *bytes += 8,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(query: &str, variables: serde_json::Value) -> Result<(), Refusal> {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        check(&doc, &Variables::from_json(variables), Sizes { document_bytes: 100 })
    }

    #[test]
    fn every_limit_names_an_input_of_the_schema() {
        let positions = Shapes::of_schema().input_positions();
        for (key, _) in LIMITS {
            assert!(positions.iter().any(|p| p.key == *key), "{key} is not an input of the schema");
        }
    }

    #[test]
    fn literals_variables_nesting_and_lists() {
        let long = "x".repeat(1_001);
        let q = "mutation($s: String) { updateDocumentContent(id: \"1\", content: \"ok\", changeSummary: $s) { id } }";
        let refused = run(q, serde_json::json!({"s": long})).unwrap_err();
        assert_eq!(refused.field, "changeSummary");
        assert!(run(q, serde_json::json!({"s": "short"})).is_ok());
        let q = format!(
            "mutation {{ login(input: {{usernameOrEmail: \"{}\", password: \"p\"}}) {{ token }} }}",
            "a".repeat(255)
        );
        assert_eq!(run(&q, serde_json::json!({})).unwrap_err().field, "usernameOrEmail");
        let q = "mutation($c: String!) { updateDocumentContent(id: \"1\", content: $c) { id } }";
        assert_eq!(run(q, serde_json::json!({"c": "x".repeat(101)})).unwrap_err().field, "content");
        let q = "mutation($i: UpdateMeInput!) { updateMe(input: $i) { id } }";
        let many: Vec<String> = (0..51).map(|i| i.to_string()).collect();
        assert_eq!(run(q, serde_json::json!({"i": {"languages": many}})).unwrap_err().field, "languages");
        let big = serde_json::json!({"i": {"preferences": {"k": "v".repeat(17 * 1024)}}});
        assert_eq!(run(q, big).unwrap_err().field, "preferences");
    }

    #[test]
    fn nul_is_refused_everywhere() {
        let q = "mutation($i: UpdateMeInput!) { updateMe(input: $i) { id } }";
        assert_eq!(run(q, serde_json::json!({"i": {"bio": "a\u{0}b"}})).unwrap_err().field, "bio");
        assert_eq!(run(q, serde_json::json!({"i": {"preferences": {"a\u{0}": 1}}})).unwrap_err().field, "preferences");
        assert_eq!(run(q, serde_json::json!({"i": {"languages": ["ur", "\u{0}"]}})).unwrap_err().field, "languages");
        // In a fragment too, walked once where it is defined.
        let q = "query { ...F } fragment F on Query { project(slug: \"a\\u0000\") { id } }";
        assert_eq!(run(q, serde_json::json!({})).unwrap_err().field, "slug");
    }

    #[test]
    fn a_string_is_not_an_enum() {
        let q = "mutation { addProjectMember(input: {projectId: \"1\", userId: \"2\", role: \"OWNER\"}) { role } }";
        assert_eq!(run(q, serde_json::json!({})).unwrap_err().field, "role");
        let q = "mutation { addProjectMember(input: {projectId: \"1\", userId: \"2\", role: OWNER}) { role } }";
        assert!(run(q, serde_json::json!({})).is_ok());
        let q = "mutation($r: Role!) { addProjectMember(input: {projectId: \"1\", userId: \"2\", role: $r}) { role } }";
        assert!(run(q, serde_json::json!({"r": "OWNER"})).is_ok());
    }
}
