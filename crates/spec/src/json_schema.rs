//! The JSON Schema of a spec file, generated from the serde types of `schema.rs` with schemars,
//! for editors: taplo and the Even Better TOML extension complete and check keys of a file
//! whose first line is `#:schema ./hourglass.schema.json`. The committed copy is
//! `experiments/hourglass.schema.json`; a test fails when it is stale.
//!
//! The schema knows the shape of a spec and the documented range of each numeric key
//! ([`crate::ranges`]), not its semantics: kind-specific settings and sweep values are checked
//! by [`crate::parse`], which stays the authority.

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator, json_schema};

use crate::RUN_SECTIONS;
use crate::ranges::RANGES;
use crate::schema::SpecFile;

/// The schema of spec files as pretty JSON with keys sorted at every depth.
pub fn json_schema() -> String {
    let mut schema = schema_value::<SpecFile>(
        "hourglass experiment spec",
        "An autoencoder experiment and its sweep; every key with its default is in \
         experiments/reference.toml. Written by `hourglass schema`.",
    );
    for (key, range) in RANGES {
        let pointer = numeric_pointer(&schema, key)
            .unwrap_or_else(|| panic!("the schema has no numeric key `{key}`"));
        let node = schema
            .pointer_mut(&pointer)
            .and_then(serde_json::Value::as_object_mut)
            .expect("a pointer found in the schema");
        node.extend(range.json_keywords());
    }
    text(&schema)
}

/// The JSON pointer to the number schema of the dotted `key`: through `$ref`s to definitions,
/// the non-null branch of an optional value, and the items of a list.
fn numeric_pointer(schema: &serde_json::Value, key: &str) -> Option<String> {
    let mut pointer = String::new();
    for part in key.split('.') {
        pointer = format!("{}/properties/{part}", object_pointer(schema, pointer)?);
    }
    let node = schema.pointer(&pointer)?;
    match node.get("items") {
        Some(_) => Some(format!("{pointer}/items")),
        None => Some(pointer),
    }
}

/// `pointer`, or where it leads, to a schema with `properties`: its `$ref`, its list's items,
/// or a branch of its `anyOf` (an optional value) or `allOf` (a reference with a default).
fn object_pointer(schema: &serde_json::Value, pointer: String) -> Option<String> {
    let node = schema.pointer(&pointer)?;
    if node.get("properties").is_some() {
        return Some(pointer);
    }
    if let Some(target) = node.get("$ref").and_then(serde_json::Value::as_str) {
        return object_pointer(schema, target.trim_start_matches('#').to_string());
    }
    if node.get("items").is_some() {
        return object_pointer(schema, format!("{pointer}/items"));
    }
    ["anyOf", "allOf"].into_iter().find_map(|combinator| {
        let branches = node.get(combinator)?.as_array()?;
        (0..branches.len())
            .find_map(|i| object_pointer(schema, format!("{pointer}/{combinator}/{i}")))
    })
}

/// The JSON Schema of `T` as pretty JSON with keys sorted at every depth, whatever
/// serde_json's features, so the committed file does not depend on the build.
pub fn schema_text<T: schemars::JsonSchema>(title: &str, description: &str) -> String {
    text(&schema_value::<T>(title, description))
}

/// The JSON Schema of `T`, titled.
fn schema_value<T: schemars::JsonSchema>(title: &str, description: &str) -> serde_json::Value {
    // Draft 7: the newest draft taplo's validator reads fully.
    let mut schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    schema.insert("description".into(), description.into());
    schema.to_value()
}

/// `schema` as pretty JSON with keys sorted at every depth.
fn text(schema: &serde_json::Value) -> String {
    let sorted = sorted_keys(schema.clone());
    let mut text = serde_json::to_string_pretty(&sorted).expect("a schema serializes");
    text.push('\n');
    text
}

/// `[sweep.parameters]`: dotted run keys to a list of values or a distribution.
pub(crate) fn sweep_parameters(_: &mut SchemaGenerator) -> Schema {
    let key_pattern = format!("^({})(\\.[A-Za-z0-9_]+)*$", RUN_SECTIONS.join("|"));
    let bounds = |item: serde_json::Value| {
        json_schema!({
            "type": "array",
            "items": item,
            "minItems": 2,
            "maxItems": 2,
            "description": "[low, high]"
        })
    };
    let distribution = |name: &str, description: &str, values: Schema| {
        json_schema!({
            "type": "object",
            "description": description,
            "properties": {
                name: values,
                "samples": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": crate::space::MAX_RUNS,
                    "description": "Values drawn for a grid sweep (a random sweep draws one per sample)"
                }
            },
            "required": [name],
            "additionalProperties": false
        })
    };
    json_schema!({
        "type": "object",
        "description": "Dotted key path to the values it takes: a list, e.g. \"model.latent\" = [2, 8, 32], or a distribution, e.g. { log_uniform = [1e-4, 1e-2] }",
        "default": {},
        "propertyNames": { "pattern": key_pattern },
        "additionalProperties": {
            "anyOf": [
                { "type": "array", "minItems": 1, "description": "The values, in order" },
                distribution(
                    "choice",
                    "Values drawn from a list",
                    json_schema!({ "type": "array", "minItems": 1 }),
                ),
                distribution(
                    "uniform",
                    "Floats uniform in [low, high); finite, with high - low finite, and within \
                     the range of the swept key",
                    bounds(serde_json::json!({
                        "type": "number",
                        "minimum": -f64::MAX,
                        "maximum": f64::MAX
                    })),
                ),
                distribution(
                    "log_uniform",
                    "Floats whose logarithm is uniform in [ln low, ln high); 0 < low < high, \
                     finite, and within the range of the swept key",
                    bounds(serde_json::json!({
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "maximum": f64::MAX
                    })),
                ),
                distribution(
                    "int_uniform",
                    "Integers uniform in [low, high], within the range of the swept key",
                    bounds(serde_json::json!({ "type": "integer" })),
                ),
            ]
        }
    })
}

/// `value` with every object's keys inserted in sorted order.
fn sorted_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, sorted_keys(value)))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sorted_keys).collect())
        }
        other => other,
    }
}
