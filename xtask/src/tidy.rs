//! Tidy tests (as in rust-analyzer): the dependency invariants that ARCHITECTURE.md states,
//! checked on the resolved dependency graph that `cargo metadata` prints.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Crates that a workspace crate must not reach through its normal dependencies, direct or
/// not, with the reason ARCHITECTURE.md gives.
const FORBIDDEN: &[(&str, &[&str], &str)] = &[
    (
        "hourglass-spec",
        &[
            "burn",
            "polars",
            "hourglass-data",
            "hourglass-models",
            "hourglass-train",
            "hourglass-orchestrator",
            "hourglass-report",
            "hourglass-metrics",
        ],
        "spec is plain serde types and checks",
    ),
    ("hourglass-data", &["burn"], "a split is rows of f32"),
    (
        "hourglass-models",
        &["polars", "hourglass-data", "hourglass-train"],
        "models do no IO: they never read a data set",
    ),
    (
        "hourglass-metrics",
        &[
            "burn",
            "polars",
            "hourglass-spec",
            "hourglass-data",
            "hourglass-models",
            "hourglass-train",
        ],
        "metrics works on plain slices",
    ),
    (
        "hourglass-search",
        &[
            "burn",
            "polars",
            "hourglass-spec",
            "hourglass-data",
            "hourglass-models",
            "hourglass-train",
            "hourglass-metrics",
            "hourglass-orchestrator",
            "hourglass-report",
        ],
        "a sampler is a function of a space, trials and a seed",
    ),
    (
        "hourglass-orchestrator",
        &["burn", "hourglass-train", "hourglass-models"],
        "workers train in processes of their own",
    ),
    (
        "hourglass-report",
        &["burn", "hourglass-train", "hourglass-models"],
        "a report is rebuilt from saved files alone",
    ),
];

/// The resolved graph: each package's name and the ids of its normal and build dependencies.
struct Graph {
    names: BTreeMap<String, String>,
    dependencies: BTreeMap<String, Vec<String>>,
}

impl Graph {
    fn of_workspace() -> Self {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = std::process::Command::new(cargo)
            .current_dir(crate::workspace_root())
            .args(["metadata", "--format-version", "1", "--locked"])
            .output()
            .expect("cargo metadata runs");
        assert!(
            output.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
        let text = |value: &Value| value.as_str().expect("a string").to_string();
        let names = metadata["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|package| (text(&package["id"]), text(&package["name"])))
            .collect();
        let dependencies = metadata["resolve"]["nodes"]
            .as_array()
            .expect("a resolved graph")
            .iter()
            .map(|node| {
                let linked = node["deps"].as_array().expect("deps").iter().filter(|dep| {
                    // Development dependencies (kind "dev") are not linked into the crate.
                    dep["dep_kinds"]
                        .as_array()
                        .expect("dep_kinds")
                        .iter()
                        .any(|kind| {
                            kind["kind"].is_null() || kind["kind"].as_str() == Some("build")
                        })
                });
                (
                    text(&node["id"]),
                    linked.map(|dep| text(&dep["pkg"])).collect(),
                )
            })
            .collect();
        Self {
            names,
            dependencies,
        }
    }

    /// The names of the packages that the package `name` reaches, itself excluded.
    fn reached_from(&self, name: &str) -> BTreeSet<&str> {
        let start = self
            .names
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| id.as_str())
            .unwrap_or_else(|| panic!("{name} is not in the workspace"));
        let mut seen = BTreeSet::from([start]);
        let mut stack = vec![start];
        while let Some(id) = stack.pop() {
            for dep in self.dependencies.get(id).into_iter().flatten() {
                if seen.insert(dep.as_str()) {
                    stack.push(dep);
                }
            }
        }
        seen.remove(start);
        seen.iter().map(|id| self.names[*id].as_str()).collect()
    }
}

#[test]
fn crates_keep_the_dependency_invariants_of_the_architecture() {
    let graph = Graph::of_workspace();
    let broken: Vec<String> = FORBIDDEN
        .iter()
        .flat_map(|(krate, forbidden, why)| {
            let reached = graph.reached_from(krate);
            forbidden
                .iter()
                .filter(move |name| reached.contains(*name))
                .map(move |name| format!("{krate} depends on {name}, but {why}"))
        })
        .collect();
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_graph_reaches_indirect_dependencies() {
    // A broken invariant can hide one crate down: train reaches burn's tensor crate through
    // burn, and the command line the spec through every other crate.
    let graph = Graph::of_workspace();
    assert!(
        graph
            .reached_from("hourglass-train")
            .contains("burn-tensor")
    );
    assert!(
        graph
            .reached_from("hourglass-cli")
            .contains("hourglass-spec")
    );
    assert!(
        !graph
            .reached_from("hourglass-spec")
            .contains("hourglass-spec")
    );
}
