// The Bevy Luau debugger for VS Code: the game (bevy_luau's ScriptDebuggerPlugin) is the debug
// adapter, a Debug Adapter Protocol server on TCP, so this extension only tells VS Code where
// to connect. Plain JavaScript with no dependencies: no build step.
"use strict";

const vscode = require("vscode");

const TYPE = "bevy-luau";
const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_PORT = 4711;

/** The attach configuration that F5 uses when there is no launch.json. */
function defaultConfiguration() {
  return {
    type: TYPE,
    request: "attach",
    name: "Attach to game",
    host: DEFAULT_HOST,
    port: DEFAULT_PORT,
  };
}

/** Fills in what a configuration leaves out, and refuses what the game cannot serve. */
const configurationProvider = {
  resolveDebugConfiguration(_folder, config) {
    if (!config.type && !config.request && !config.name) {
      return defaultConfiguration();
    }
    if (config.request !== "attach") {
      vscode.window.showErrorMessage(
        `Bevy Luau: the game is started by you and the editor attaches to it; use "request": "attach", not "${config.request}".`
      );
      return undefined;
    }
    const port = config.port === undefined ? DEFAULT_PORT : Number(config.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      vscode.window.showErrorMessage(
        `Bevy Luau: "port" must be a number from 1 to 65535, not ${JSON.stringify(config.port)}.`
      );
      return undefined;
    }
    return { ...config, host: config.host || DEFAULT_HOST, port };
  },
};

/** Connects each session to the game's debug adapter over TCP. */
const descriptorFactory = {
  createDebugAdapterDescriptor(session) {
    const { host, port } = session.configuration;
    return new vscode.DebugAdapterServer(port || DEFAULT_PORT, host || DEFAULT_HOST);
  },
};

function activate(context) {
  context.subscriptions.push(
    vscode.debug.registerDebugConfigurationProvider(TYPE, configurationProvider),
    vscode.debug.registerDebugAdapterDescriptorFactory(TYPE, descriptorFactory)
  );
}

function deactivate() {}

module.exports = { activate, deactivate };
