//! The editor integrations agree with the debugger the game serves: `ScriptDebuggerPlugin`, a
//! Debug Adapter Protocol server on TCP (`127.0.0.1:4711` by default) that editors attach to.
//!
//! - `editors/vscode/package.json` is a VS Code extension manifest that contributes the debugger
//!   type `bevy-luau` with an `attach` configuration (`host`, `port` and their defaults),
//!   breakpoints in `luau` and `lua` files, and a `main` file that exists.
//! - `editors/vscode/extension.js` connects to the game with a `DebugAdapterServer`; with `node`
//!   installed, `node --check` parses it (without node, that part says so and passes).
//! - The README's VS Code, nvim-dap and Zed configurations name the same type, request and port.
//!
//! The checkers return every problem they find, and tests feed them broken manifests too, so a
//! check that quietly passes everything would fail here.

mod common;

use common::readme::{Block, blocks, readme};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The debugger type, everywhere.
const TYPE: &str = "bevy-luau";
/// The address the plugin listens on by default.
const HOST: &str = "127.0.0.1";
/// The plugin's default port.
const PORT: u64 = 4711;

fn vscode() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("editors/vscode")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// What is wrong with `manifest`, the text of a VS Code extension's `package.json` in the
/// folder `dir`, as the manifest of the `bevy-luau` debugger; empty when nothing is.
fn manifest_problems(manifest: &str, dir: &Path) -> Vec<String> {
    let manifest: Value = match serde_json::from_str(manifest) {
        Ok(manifest) => manifest,
        Err(error) => return vec![format!("package.json is not JSON: {error}")],
    };
    let mut problems = Vec::new();

    for field in [
        "/name",
        "/publisher",
        "/version",
        "/license",
        "/engines/vscode",
    ] {
        if !manifest.pointer(field).is_some_and(is_text) {
            problems.push(format!("{field} is not a non-empty string"));
        }
    }
    match manifest["main"].as_str() {
        Some(main) if dir.join(main).is_file() => {}
        Some(main) => problems.push(format!("/main `{main}` is not a file in {}", dir.display())),
        None => problems.push("/main is missing".into()),
    }
    let activation = strings(&manifest["activationEvents"]);
    let resolve = format!("onDebugResolve:{TYPE}");
    if !activation.iter().any(|e| *e == resolve || *e == "onDebug") {
        problems.push(format!(
            "/activationEvents has neither `{resolve}` nor `onDebug`"
        ));
    }
    let breakpoints: Vec<&str> = array(&manifest["contributes"]["breakpoints"])
        .iter()
        .filter_map(|b| b["language"].as_str())
        .collect();
    for language in ["luau", "lua"] {
        if !breakpoints.contains(&language) {
            problems.push(format!(
                "/contributes/breakpoints does not allow `{language}`"
            ));
        }
    }

    let debuggers: Vec<&Value> = array(&manifest["contributes"]["debuggers"])
        .iter()
        .filter(|d| d["type"] == TYPE)
        .collect();
    let [debugger] = debuggers[..] else {
        problems.push(format!(
            "/contributes/debuggers has {} debuggers of type `{TYPE}`, not one",
            debuggers.len()
        ));
        return problems;
    };
    if debugger["label"] != "Bevy Luau" {
        problems.push(format!("the debugger's label is {}", debugger["label"]));
    }
    let languages = strings(&debugger["languages"]);
    if !(languages.contains(&"luau") && languages.contains(&"lua")) {
        problems.push(format!("the debugger's languages are {languages:?}"));
    }
    let attributes = &debugger["configurationAttributes"];
    if !attributes["launch"].is_null() {
        problems.push("the debugger offers `launch`, which the game does not serve".into());
    }
    let properties = &attributes["attach"]["properties"];
    for (name, kind, default) in [
        ("host", "string", Value::from(HOST)),
        ("port", "number", Value::from(PORT)),
    ] {
        let property = &properties[name];
        if property["type"] != kind || property["default"] != default {
            problems.push(format!(
                "the attach attribute `{name}` is {property}, not a {kind} with default {default}"
            ));
        }
    }

    let initial = array(&debugger["initialConfigurations"]);
    let snippets = array(&debugger["configurationSnippets"]);
    if initial.is_empty() || snippets.is_empty() {
        problems.push("initialConfigurations or configurationSnippets is empty".into());
    }
    let configurations = initial
        .iter()
        .map(|c| ("an initial configuration", c))
        .chain(snippets.iter().map(|s| ("a snippet's body", &s["body"])));
    for (what, configuration) in configurations {
        problems.extend(attach_problems(what, configuration, "type"));
    }
    for snippet in snippets {
        if !is_text(&snippet["label"]) {
            problems.push(format!("a snippet has no label: {snippet}"));
        }
    }
    problems
}

/// What is wrong with `configuration` as an attach configuration of the `bevy-luau` debugger,
/// whose type is under `type_key` (`type` for VS Code and nvim-dap, `adapter` for Zed), and whose
/// port, where it gives one, is the default.
fn attach_problems(what: &str, configuration: &Value, type_key: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if configuration[type_key] != TYPE || configuration["request"] != "attach" {
        problems.push(format!("{what} is not a `{TYPE}` attach: {configuration}"));
    }
    let port = configuration
        .get("port")
        .or_else(|| configuration.pointer("/tcp_connection/port"));
    if port.is_some_and(|p| *p != PORT) {
        problems.push(format!("{what} attaches to another port: {configuration}"));
    }
    problems
}

/// What is wrong with `source` as the extension's `extension.js`.
fn extension_problems(source: &str) -> Vec<String> {
    [
        (
            "new vscode.DebugAdapterServer(",
            "does not connect with a DebugAdapterServer",
        ),
        (
            "registerDebugAdapterDescriptorFactory(",
            "registers no descriptor factory",
        ),
        (
            "\"bevy-luau\"",
            "does not name the debugger type `bevy-luau`",
        ),
    ]
    .into_iter()
    .filter(|(needle, _)| !source.contains(needle))
    .map(|(_, problem)| format!("extension.js {problem}"))
    .collect()
}

fn is_text(value: &Value) -> bool {
    value.as_str().is_some_and(|s| !s.trim().is_empty())
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

fn strings(value: &Value) -> Vec<&str> {
    array(value).iter().filter_map(Value::as_str).collect()
}

fn manifest() -> String {
    read(&vscode().join("package.json"))
}

/// The real manifest with `edit` applied.
fn edited(edit: impl FnOnce(&mut Value)) -> String {
    let mut manifest: Value = serde_json::from_str(&manifest()).expect("package.json is JSON");
    edit(&mut manifest);
    manifest.to_string()
}

#[test]
fn the_vscode_manifest_contributes_the_bevy_luau_attach_debugger() {
    let problems = manifest_problems(&manifest(), &vscode());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_broken_manifest_is_reported() {
    let dir = vscode();
    let without_debugger = edited(|m| {
        m["contributes"]
            .as_object_mut()
            .expect("contributes")
            .remove("debuggers");
    });
    let problems = manifest_problems(&without_debugger, &dir);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("/contributes/debuggers")),
        "{problems:#?}"
    );

    let cases: [(&str, String, &str); 6] = [
        ("not JSON", "{ \"name\": ".into(), "not JSON"),
        (
            "a bare manifest",
            r#"{ "name": "x", "contributes": {} }"#.into(),
            "/publisher",
        ),
        (
            "another port",
            edited(|m| {
                m["contributes"]["debuggers"][0]["configurationAttributes"]["attach"]["properties"]
                    ["port"]["default"] = 4712.into()
            }),
            "`port`",
        ),
        (
            "a launch snippet",
            edited(|m| {
                m["contributes"]["debuggers"][0]["configurationSnippets"][0]["body"]["request"] =
                    "launch".into()
            }),
            "a snippet's body",
        ),
        (
            "a missing main file",
            edited(|m| m["main"] = "./missing.js".into()),
            "/main",
        ),
        (
            "no lua breakpoints",
            edited(|m| {
                m["contributes"]["breakpoints"] = serde_json::json!([{ "language": "luau" }])
            }),
            "`lua`",
        ),
    ];
    for (case, manifest, expected) in cases {
        let problems = manifest_problems(&manifest, &dir);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{case}: expected a problem mentioning {expected:?}, got {problems:#?}"
        );
    }
}

#[cfg(feature = "debugger")]
#[test]
fn the_manifest_port_is_the_plugins_default() {
    assert_eq!(
        u64::from(bevy_luau::ScriptDebuggerPlugin::DEFAULT_PORT),
        PORT
    );
    let plugin = bevy_luau::ScriptDebuggerPlugin::default();
    assert_eq!(plugin.address.to_string(), HOST);
}

#[test]
fn the_extension_connects_to_the_game_with_a_debug_adapter_server() {
    let source = read(&vscode().join("extension.js"));
    let problems = extension_problems(&source);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        extension_problems("exports.activate = () => {};").len(),
        3,
        "an empty extension is reported"
    );
}

#[test]
fn node_parses_the_extension() {
    let node_version = Command::new("node").arg("--version").output();
    if !node_version.is_ok_and(|o| o.status.success()) {
        println!("skipped: node is not installed");
        return;
    }
    let output = Command::new("node")
        .arg("--check")
        .arg(vscode().join("extension.js"))
        .output()
        .expect("run node --check");
    assert!(
        output.status.success(),
        "node --check extension.js: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The fenced blocks of the README's "Debugging scripts" section.
fn debugging_blocks() -> Vec<Block> {
    let markdown = readme();
    let (_, after) = markdown
        .split_once("\n## Debugging scripts\n")
        .expect("the README has a section \"Debugging scripts\"");
    let section = after.split("\n## ").next().unwrap_or(after);
    blocks(section)
}

#[test]
fn the_readme_configurations_attach_to_the_bevy_luau_debugger() {
    let blocks = debugging_blocks();
    let json: Vec<Value> = blocks
        .iter()
        .filter(|b| b.language == "json")
        .map(|b| serde_json::from_str(&b.text).expect("a JSON block of the section parses"))
        .collect();
    let [launch, zed] = &json[..] else {
        panic!("expected two JSON blocks (launch.json, debug.json), found {json:#?}");
    };
    let mut problems = Vec::new();
    for configuration in array(&launch["configurations"]) {
        problems.extend(attach_problems("launch.json", configuration, "type"));
    }
    for configuration in array(zed) {
        problems.extend(attach_problems("debug.json", configuration, "adapter"));
        if configuration.pointer("/tcp_connection/port").is_none() {
            problems.push(format!("debug.json has no tcp_connection: {configuration}"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(!array(&launch["configurations"]).is_empty() && !array(zed).is_empty());

    let nvim = blocks
        .iter()
        .find(|b| b.language == "lua nvim")
        .expect("an nvim-dap block");
    for needle in [
        "dap.adapters[\"bevy-luau\"] = { type = \"server\", host = \"127.0.0.1\", port = 4711 }",
        "type = \"bevy-luau\", request = \"attach\"",
    ] {
        assert!(nvim.text.contains(needle), "{needle}\n{}", nvim.text);
    }
    assert!(
        blocks
            .iter()
            .any(|b| b.language == "sh" && b.text.contains("~/.vscode/extensions/bevy-luau-debug")),
        "the VS Code install command"
    );
}

#[test]
fn the_extension_readme_snippet_is_the_manifests_initial_configuration() {
    let text = read(&vscode().join("README.md"));
    let snippet = blocks(&text)
        .into_iter()
        .find(|b| b.language == "json")
        .expect("a launch.json block");
    let launch: Value = serde_json::from_str(&snippet.text).expect("launch.json parses");
    let manifest: Value = serde_json::from_str(&manifest()).expect("package.json is JSON");
    assert_eq!(
        launch["configurations"],
        manifest["contributes"]["debuggers"][0]["initialConfigurations"]
    );
    assert!(text.contains("ln -s \"$PWD/editors/vscode\" ~/.vscode/extensions/bevy-luau-debug"));
}
