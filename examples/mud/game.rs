//! The MUD's server: the bridge between network sessions and Lua events. Every rule of the game
//! lives in `assets/games/mud/scripts/`.
//!
//! - A client that connects becomes an entity with a [`Session`]; Lua hears `on_connect`.
//! - Each line it sends is offered to `on_action` handlers; when none consumes it, to the
//!   default `command` handler.
//! - Lua answers with the [`Tell`] message and hangs up with [`Hangup`]; when a client leaves,
//!   Lua hears `on_disconnect` and the entity is despawned.
//! - A client has logged in once the login script gives its entity a [`Player`]. Until then it
//!   counts against `sv_max_pending`, and after `sv_login_timeout` seconds it is told so and
//!   disconnected (see [`check_logins`] for why that rule is Rust's).

use crate::api::MudApiPlugin;
use crate::components::{Hangup, MudTypesPlugin, Player, Session, Tell};
use crate::net::{self, NetEvent, Outbox, SessionId};
use bevy_app::{App, AppExit, Plugin, Startup, TaskPoolPlugin, Update};
use bevy_asset::AssetPlugin;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_time::{Real, Time, TimePlugin};
use crossbeam_channel::{Receiver, Sender};
use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The template folder under the asset folder.
pub const TEMPLATE: &str = "games/mud";

/// The running server: its address and its clients.
#[derive(Resource)]
pub struct MudServer {
    /// The address clients connect to.
    pub addr: SocketAddr,
    listener: net::Listener,
    sessions: HashMap<SessionId, Client>,
}

/// One connected client.
struct Client {
    entity: Entity,
    outbox: Outbox,
    /// Whether a script has taken its `on_connect` yet.
    greeted: bool,
    /// Lines that arrived before then, in order.
    backlog: Vec<String>,
    /// Whether it has logged in yet.
    login: Login,
}

/// Where a client is with logging in.
#[derive(Clone, Copy)]
enum Login {
    /// Not yet; it connected at this [`Time<Real>`] elapsed time.
    Pending { since: Duration },
    /// Its entity has a [`Player`].
    Done,
    /// It took longer than `sv_login_timeout` and is being disconnected; its lines are ignored.
    TimedOut,
}

/// The most lines kept for a client the game has not greeted yet.
const BACKLOG: usize = 32;

/// What a client is told when a script failed on its behalf (the error itself is a
/// `ScriptError`, with the script's file and line).
const SCRIPT_FAILED: &str = "Something went wrong there; the gods have been told.";

impl MudServer {
    /// How many clients are connected.
    pub fn clients(&self) -> usize {
        self.sessions.len()
    }

    /// How many of them have not logged in yet.
    pub fn pending(&self) -> usize {
        self.sessions
            .values()
            .filter(|client| matches!(client.login, Login::Pending { .. }))
            .count()
    }
}

/// The admin console: lines to run, and where their output goes.
#[derive(Resource)]
pub struct AdminConsole {
    /// Console lines to run.
    pub input: Receiver<String>,
    /// Each line's output, or its error prefixed with `error: `.
    pub output: Sender<String>,
}

/// Serves the game: registers its types and messages, opens the port from the `sv_port` CVar
/// at startup, and moves lines between clients and scripts every frame.
pub struct MudPlugin;

impl Plugin for MudPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins((MudTypesPlugin, MudApiPlugin))
            .add_console_command(
                "clients",
                "clients: how many clients are connected and still logging in, and the server's address",
                |world, _| match world.get_resource::<MudServer>() {
                    Some(server) => Ok(format!(
                        "{} client(s) connected to {}, {} still logging in",
                        server.clients(),
                        server.addr,
                        server.pending()
                    )),
                    None => Err("the server is not listening".into()),
                },
            )
            .add_systems(Startup, open_port)
            .add_systems(
                Update,
                (
                    pump_network.before(ScriptingSystem),
                    deliver_output.after(ScriptingSystem),
                    check_logins.after(ScriptingSystem),
                    follow_limits,
                    admin_console.after(ScriptingSystem),
                ),
            );
    }
}

/// A headless MUD app over the asset folder `assets`, without a runner: add
/// `ScheduleRunnerPlugin`, or call `finish`, `cleanup` and `update` yourself. `port` overrides
/// the `sv_port` CVar.
pub fn app(assets: PathBuf, port: Option<u16>) -> App {
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin {
            file_path: assets.to_string_lossy().into_owned(),
            watch_for_changes_override: Some(true),
            ..Default::default()
        },
        LuauScriptingPlugin {
            template: Some(TEMPLATE.into()),
            ..Default::default()
        },
        MudPlugin,
    ))
    .insert_resource(PortOverride(port));
    app
}

/// A port that wins over the `sv_port` CVar.
#[derive(Resource)]
struct PortOverride(Option<u16>);

/// Opens the port named by the `sv_port` CVar; the app exits with an error when it cannot.
fn open_port(world: &mut World) {
    let requested = world.get_resource::<PortOverride>().and_then(|p| p.0);
    let cvars = world.resource::<CVarRegistry>();
    let port = match requested {
        Some(port) => f64::from(port),
        None => cvars
            .get("sv_port")
            .and_then(CVarValue::as_f64)
            .unwrap_or(4000.0),
    };
    let limit = |name, default| {
        let limit = cvars
            .get(name)
            .and_then(CVarValue::as_f64)
            .unwrap_or(default);
        limit.max(0.0) as usize
    };
    let (max_clients, max_pending) = (limit("sv_max_clients", 32.0), limit("sv_max_pending", 8.0));
    let Some(port) = (0.0..=65535.0).contains(&port).then_some(port as u16) else {
        tracing::error!(target: "mud", "sv_port {port} is not a TCP port");
        world.write_message(AppExit::error());
        return;
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match net::listen(addr, max_clients, max_pending) {
        Ok(listener) => {
            tracing::info!(target: "mud", "listening on {}", listener.addr);
            // `get sv_port` tells the port really in use.
            let mut cvars = world.resource_mut::<CVarRegistry>();
            if let Err(error) = cvars.set("sv_port", i64::from(listener.addr.port())) {
                tracing::warn!(target: "mud", "{error}");
            }
            world.insert_resource(MudServer {
                addr: listener.addr,
                listener,
                sessions: HashMap::default(),
            });
        }
        Err(error) => {
            tracing::error!(target: "mud", "cannot listen on {addr}: {error}; pick another port with `sv_port`");
            world.write_message(AppExit::error());
        }
    }
}

/// Turns network events into Lua events, in the order they happened.
///
/// A client is greeted (`on_connect`) once a script takes it: one that connects while the game's
/// scripts are still loading is greeted when they are, and its early lines wait until then.
fn pump_network(world: &mut World) {
    let Some(mut server) = world.remove_resource::<MudServer>() else {
        return;
    };
    while let Ok(event) = server.listener.events.try_recv() {
        match event {
            NetEvent::Connected { id, outbox } => {
                let entity = world.spawn(Session { id }).id();
                let since = world.resource::<Time<Real>>().elapsed();
                let client = Client {
                    entity,
                    outbox,
                    greeted: false,
                    backlog: Vec::new(),
                    login: Login::Pending { since },
                };
                server.sessions.insert(id, client);
            }
            NetEvent::Line { id, text } => {
                let Some(client) = server.sessions.get_mut(&id) else {
                    continue;
                };
                if let Login::TimedOut = client.login {
                    continue;
                }
                if !client.greeted {
                    if client.backlog.len() < BACKLOG {
                        client.backlog.push(text);
                    } else {
                        client
                            .outbox
                            .send("The world is still loading; that line was ignored.");
                    }
                    continue;
                }
                if let Some(reply) = action(world, client.entity, id, text) {
                    client.outbox.send(reply);
                }
            }
            NetEvent::Closed { id } => {
                let Some(client) = server.sessions.remove(&id) else {
                    continue;
                };
                if client.greeted
                    && let Err(error) =
                        ScriptEngine::emit(world, "on_disconnect", payload(client.entity, id, None))
                {
                    tracing::debug!(target: "mud", "on_disconnect failed: {error}");
                }
                if let Ok(entity) = world.get_entity_mut(client.entity) {
                    entity.despawn();
                }
            }
        }
    }
    for (&id, client) in server.sessions.iter_mut().filter(|(_, c)| !c.greeted) {
        match ScriptEngine::emit(world, "on_connect", payload(client.entity, id, None)) {
            Ok(true) => {}
            // Nothing took it: the scripts are not loaded yet. Try again next frame.
            Ok(false) => continue,
            // A handler failed (already a `ScriptError`); trying again each frame would only
            // repeat the error, so the client is let in as it is.
            Err(_) => {
                client.outbox.send(SCRIPT_FAILED);
            }
        }
        client.greeted = true;
        for line in std::mem::take(&mut client.backlog) {
            if let Some(reply) = action(world, client.entity, id, line) {
                client.outbox.send(reply);
            }
        }
    }
    world.insert_resource(server);
}

/// Offers a line to the `on_action` handlers, then to the default `command` handler. Returns
/// what to tell the client when no script could take it.
fn action(world: &mut World, entity: Entity, id: SessionId, line: String) -> Option<String> {
    let payload = payload(entity, id, Some(line));
    for event in ["on_action", "command"] {
        match ScriptEngine::emit(world, event, payload.clone()) {
            Ok(true) => return None,
            Ok(false) => {}
            Err(_) => return Some(SCRIPT_FAILED.into()),
        }
    }
    Some("Nothing in this world answers (no script handled that line).".into())
}

/// The payload of a session event: `{entity = e, session = id, line = "..."}`.
fn payload(entity: Entity, id: SessionId, line: Option<String>) -> ScriptValue {
    let mut map = BTreeMap::from([
        ("entity".to_owned(), ScriptValue::Entity(entity)),
        ("session".to_owned(), ScriptValue::Number(id as f64)),
    ]);
    if let Some(line) = line {
        map.insert("line".to_owned(), ScriptValue::String(line));
    }
    ScriptValue::Map(map)
}

/// Sends what scripts told clients, and hangs up on those they asked to.
fn deliver_output(
    server: Option<Res<MudServer>>,
    mut tells: MessageReader<Tell>,
    mut hangups: MessageReader<Hangup>,
) {
    let Some(server) = server else {
        tells.clear();
        hangups.clear();
        return;
    };
    for tell in tells.read() {
        if let Some(client) = server.sessions.get(&tell.session) {
            client.outbox.send(tell.text.clone());
        }
    }
    for hangup in hangups.read() {
        if let Some(client) = server.sessions.get(&hangup.session) {
            client.outbox.close();
        }
    }
}

/// Admits the clients that have logged in, so they no longer count against `sv_max_pending`,
/// and disconnects those still not logged in `sv_login_timeout` seconds after they connected.
///
/// This is connection policy, not a rule of the game, so it lives here rather than in a script:
/// it has to hold while the login script is broken or being edited, and the listener's count of
/// connections still logging in has to hear of every login. The game decides what logging in
/// is (its login script adds [`Player`]); Rust only watches for it.
///
/// The clock is [`Time<Real>`]: a paused game, or `Time<Virtual>`'s cap on a long frame, must
/// not stretch the timeout, and `TimeUpdateStrategy::ManualDuration` drives it in tests.
fn check_logins(
    server: Option<ResMut<MudServer>>,
    players: Query<(), With<Player>>,
    time: Res<Time<Real>>,
    cvars: Res<CVarRegistry>,
) {
    let Some(mut server) = server else { return };
    let timeout = cvars
        .get("sv_login_timeout")
        .and_then(CVarValue::as_f64)
        .unwrap_or(0.0);
    let now = time.elapsed();
    for client in server.sessions.values_mut() {
        let Login::Pending { since } = client.login else {
            continue;
        };
        if players.contains(client.entity) {
            client.login = Login::Done;
            client.outbox.admit();
        } else if timeout > 0.0 && now.saturating_sub(since).as_secs_f64() >= timeout {
            client.outbox.send(format!(
                "You did not log in within {timeout} seconds; goodbye."
            ));
            client.outbox.close();
            client.login = Login::TimedOut;
        }
    }
}

/// Runs the admin's console lines.
fn admin_console(world: &mut World) {
    let Some(console) = world.get_resource::<AdminConsole>() else {
        return;
    };
    let (lines, output): (Vec<String>, _) =
        (console.input.try_iter().collect(), console.output.clone());
    for line in lines {
        let reply = match Console::execute(world, &line) {
            Ok(reply) => reply,
            Err(error) => format!("error: {error}"),
        };
        let _ = output.send(reply);
    }
}

/// Applies `sv_max_clients` and `sv_max_pending` changes to new connections.
fn follow_limits(server: Option<Res<MudServer>>, mut changes: MessageReader<CVarChanged>) {
    let Some(server) = server else {
        changes.clear();
        return;
    };
    let capacity = &server.listener.capacity;
    for change in changes.read() {
        let limit = match change.name.as_str() {
            "sv_max_clients" => &capacity.max_clients,
            "sv_max_pending" => &capacity.max_pending,
            _ => continue,
        };
        if let Some(max) = change.new.as_f64() {
            limit.store(max.max(0.0) as usize, Ordering::SeqCst);
        }
    }
}
