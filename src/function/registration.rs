//! Registering the game's own functions (`app.add_script_function`,
//! `app.add_worker_script_function`) and installing them in each VM.

use super::body::{Call, GameFunction, PlainCall, ScriptInput, SystemCall, Ticks, stub};
use super::convert::{ScriptArgs, ScriptReturn};
use bevy_ecs::change_detection::CheckChangeTicks;
use bevy_ecs::resource::Resource;
use bevy_ecs::system::{In, IntoSystem, IsFunctionSystem, System as _, SystemParamFunction};
use bevy_ecs::world::World;
use mlua::{Lua, Table};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// A game function with a doc string, for the definitions and the console's `help`:
/// `app.add_script_function("nav.path", nav_path.doc("The path from one room to another."))`.
#[derive(Debug, Clone)]
pub struct Documented<F> {
    function: F,
    doc: String,
}

/// Gives a game function a doc string: `.doc("...")` on a system or a closure.
pub trait ScriptFunctionDoc: Sized {
    /// `self` with `doc`, which the generated definitions and the console's `help` show.
    fn doc(self, doc: impl Into<String>) -> Documented<Self> {
        Documented {
            function: self,
            doc: doc.into(),
        }
    }
}

impl<F: Send + Sync + 'static> ScriptFunctionDoc for F {}

/// A Bevy function system that scripts can call: its input is `In<A>` (or none), its output a
/// [`ScriptReturn`](crate::ScriptReturn), and its other parameters any system parameters,
/// `&mut World` included. A function whose only parameter is `In` (a plain closure) must be
/// `Fn`; it runs directly, without a world. `M` only tells the implementations apart.
pub trait IntoScriptFunction<M>: Sized + Send + Sync + 'static {
    #[doc(hidden)]
    fn into_parts(self) -> (Source, Signature, String);
}

/// A plain function that every VM gets, worker VMs included: `Fn(A) -> R` (or `Fn() -> R`) with
/// arguments `A` and results `R`. `M` only tells the implementations apart.
pub trait IntoWorkerScriptFunction<M>: Sized + Send + Sync + 'static {
    #[doc(hidden)]
    fn into_parts(self) -> (Arc<dyn Install>, Signature, String);
}

/// The Luau types of a function's parameters and results.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub(crate) params: Vec<String>,
    pub(crate) returns: String,
}

impl Signature {
    fn of<A: ScriptArgs, R: ScriptReturn>() -> Self {
        Self {
            params: A::luau_params(),
            returns: R::luau_returns(),
        }
    }
}

/// Builds a system function for a world, once, when the VMs are made.
#[doc(hidden)]
pub struct Builder(Build);

/// Builds a system function for a world, given its name.
type Build = Box<dyn FnOnce(&mut World, &'static str) -> Built + Send + Sync>;

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Builder")
    }
}

/// A built system function: what installs it, and its change ticks.
struct Built {
    install: Arc<dyn Install>,
    ticks: Arc<dyn Ticks>,
}

/// Marks the implementations of [`IntoScriptFunction`] and [`IntoWorkerScriptFunction`]: a
/// function of its arguments alone, one with no input, one with system parameters.
#[doc(hidden)]
#[derive(Debug)]
pub struct Shape<const KIND: u8>;

impl<F, A, O, M> IntoScriptFunction<(Shape<0>, M, A)> for F
where
    F: SystemParamFunction<M, In = In<A>, Out = O, Param = ()> + Fn(In<A>) -> O,
    A: ScriptArgs,
    O: ScriptReturn,
{
    fn into_parts(self) -> (Source, Signature, String) {
        let install = Plain(PlainCall::new(move |args: A| self(In(args))));
        let source = Source::Ready(Arc::new(install));
        (source, Signature::of::<A, O>(), String::new())
    }
}

impl<F, O, M> IntoScriptFunction<(Shape<1>, M)> for F
where
    F: SystemParamFunction<M, In = (), Out = O, Param = ()> + Fn() -> O,
    O: ScriptReturn,
{
    fn into_parts(self) -> (Source, Signature, String) {
        let install = Plain(PlainCall::new(move |()| self()));
        let source = Source::Ready(Arc::new(install));
        (source, Signature::of::<(), O>(), String::new())
    }
}

/// The system of `function`, built for the world when the VMs are made.
fn system_source<F, M>(function: F) -> Source
where
    F: SystemParamFunction<M>,
    F::In: ScriptInput,
    F::Out: ScriptReturn,
    M: 'static,
{
    let build = move |world: &mut World, name: &'static str| {
        let mut system = IntoSystem::<F::In, F::Out, (IsFunctionSystem, M)>::into_system(function);
        system.initialize(world);
        let function = GameFunction::new(name, SystemCall::new(system, world.id()));
        Built {
            install: Arc::new(System(Arc::clone(&function))),
            ticks: function,
        }
    };
    Source::Build(Builder(Box::new(build)))
}

/// [`IntoScriptFunction`] for functions with `$p` system parameters.
macro_rules! with_params {
    ($($p:ident),+) => {
        impl<F, M, $($p),+> IntoScriptFunction<(Shape<2>, M, ($($p,)+))> for F
        where
            F: SystemParamFunction<M, Param = ($($p,)+)>,
            F::In: ScriptInput,
            F::Out: ScriptReturn,
            M: 'static,
        {
            fn into_parts(self) -> (Source, Signature, String) {
                let signature = Signature::of::<<F::In as ScriptInput>::Args, F::Out>();
                (system_source(self), signature, String::new())
            }
        }
    };
}

with_params!(P0);
with_params!(P0, P1);
with_params!(P0, P1, P2);
with_params!(P0, P1, P2, P3);
with_params!(P0, P1, P2, P3, P4);
with_params!(P0, P1, P2, P3, P4, P5);
with_params!(P0, P1, P2, P3, P4, P5, P6);
with_params!(P0, P1, P2, P3, P4, P5, P6, P7);
with_params!(P0, P1, P2, P3, P4, P5, P6, P7, P8);
with_params!(P0, P1, P2, P3, P4, P5, P6, P7, P8, P9);
with_params!(P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10);
with_params!(P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, P11);
with_params!(P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, P11, P12);
with_params!(P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, P11, P12, P13);
with_params!(
    P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, P11, P12, P13, P14
);
with_params!(
    P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, P11, P12, P13, P14, P15
);

impl<T: IntoScriptFunction<M>, M> IntoScriptFunction<(Documented<()>, M)> for Documented<T> {
    fn into_parts(self) -> (Source, Signature, String) {
        let (builder, signature, _) = self.function.into_parts();
        (builder, signature, self.doc)
    }
}

impl<F, A, R> IntoWorkerScriptFunction<(A, R)> for F
where
    F: Fn(A) -> R + Send + Sync + 'static,
    A: ScriptArgs,
    R: ScriptReturn,
{
    fn into_parts(self) -> (Arc<dyn Install>, Signature, String) {
        let install = Plain(PlainCall::new(self));
        (Arc::new(install), Signature::of::<A, R>(), String::new())
    }
}

impl<F, R> IntoWorkerScriptFunction<(Shape<1>, R)> for F
where
    F: Fn() -> R + Send + Sync + 'static,
    R: ScriptReturn,
{
    fn into_parts(self) -> (Arc<dyn Install>, Signature, String) {
        let install = Plain(PlainCall::new(move |()| self()));
        (Arc::new(install), Signature::of::<(), R>(), String::new())
    }
}

impl<T: IntoWorkerScriptFunction<M>, M> IntoWorkerScriptFunction<(Documented<()>, M)>
    for Documented<T>
{
    fn into_parts(self) -> (Arc<dyn Install>, Signature, String) {
        let (install, signature, _) = self.function.into_parts();
        (install, signature, self.doc)
    }
}

/// Creates a game function in a VM.
#[doc(hidden)]
pub trait Install: Send + Sync + 'static {
    /// The function `name` in `lua`.
    fn create(&self, lua: &Lua, name: &'static str) -> mlua::Result<mlua::Function>;
}

/// A system function, built once for the main VM.
struct System<C: Call>(Arc<GameFunction<C>>);

impl<C: Call> Install for System<C> {
    fn create(&self, lua: &Lua, _: &'static str) -> mlua::Result<mlua::Function> {
        self.0.create(lua)
    }
}

/// A plain function, made anew in each VM.
struct Plain<C>(C);

impl<C: Call + Clone> Install for Plain<C> {
    fn create(&self, lua: &Lua, name: &'static str) -> mlua::Result<mlua::Function> {
        GameFunction::new(name, self.0.clone()).create(lua)
    }
}

/// Which VMs run a game function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// A system: the main VM; worker VMs get a stand-in that says so.
    Main,
    /// A plain function: every VM.
    Every,
}

/// What the definitions and the console know of a game function.
#[derive(Clone, Debug)]
pub(crate) struct FunctionInfo {
    /// `library.function`.
    pub name: &'static str,
    /// The doc string, empty when none was given.
    pub doc: String,
    /// The Luau types of its parameters and results.
    pub signature: Signature,
    /// Which VMs run it.
    pub reach: Reach,
}

impl FunctionInfo {
    /// The library part of the name.
    pub fn library(&self) -> &'static str {
        self.name
            .split_once('.')
            .map_or(self.name, |(library, _)| library)
    }

    /// The function part of the name.
    pub fn function(&self) -> &'static str {
        self.name
            .split_once('.')
            .map_or(self.name, |(_, function)| function)
    }

    /// The Luau function type: `(number, Entity?) -> vector`.
    pub fn luau_type(&self) -> String {
        format!(
            "({}) -> {}",
            self.signature.params.join(", "),
            self.signature.returns
        )
    }
}

/// How a registered function is made: a system not yet built (the VMs are not made yet), or a
/// function ready to install.
#[doc(hidden)]
pub enum Source {
    /// A system, built for the world when the VMs are made.
    Build(Builder),
    /// A function ready to install.
    Ready(Arc<dyn Install>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Build(_) => "Source::Build",
            Source::Ready(_) => "Source::Ready",
        })
    }
}

/// The game's functions, as registered: kept in the app until the VMs are made, and after for
/// the definitions, the console's `help` and the systems' change ticks.
#[derive(Resource, Default)]
pub(crate) struct ScriptFunctions {
    infos: Vec<FunctionInfo>,
    entries: Mutex<Vec<Source>>,
    ticks: Vec<Arc<dyn Ticks>>,
    /// Set once the VMs are made: later registrations are refused.
    sealed: bool,
}

impl ScriptFunctions {
    /// Every function, in the order registered.
    pub fn infos(&self) -> &[FunctionInfo] {
        &self.infos
    }

    /// The function named `name`, if any.
    pub fn info(&self, name: &str) -> Option<&FunctionInfo> {
        self.infos.iter().find(|info| info.name == name)
    }

    /// Registers a function; panics with a message naming both when `name` is taken, is not
    /// `library.function`, or belongs to one of the crate's libraries, or when the VMs are made.
    fn register(
        &mut self,
        name: &str,
        entry: Source,
        signature: Signature,
        doc: String,
        reach: Reach,
    ) {
        if let Err(problem) = self.check(name) {
            panic!("add_script_function(\"{name}\"): {problem}");
        }
        let name = crate::ffi::dynamic::static_name(name)
            .to_str()
            .unwrap_or_default();
        self.infos.push(FunctionInfo {
            name,
            doc,
            signature,
            reach,
        });
        self.entries
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry);
    }

    /// Why `name` cannot be registered, if it cannot.
    fn check(&self, name: &str) -> Result<(), String> {
        if self.sealed {
            return Err(
                "the script VMs are made already (by app.finish() or the first \
                        update); register game functions while building the app"
                    .to_owned(),
            );
        }
        let Some((library, function)) = name.split_once('.') else {
            return Err("a game function's name is `library.function`".to_owned());
        };
        for part in [library, function] {
            if !crate::value::is_identifier(part) {
                return Err(format!(
                    "`{part}` is not a Lua name (letters, digits and `_`, not starting with a \
                     digit, not a keyword); a game function's name is `library.function`"
                ));
            }
        }
        if crate::api::is_reserved(library) {
            return Err(format!(
                "`{library}` is one of the libraries scripts have already; give the game's \
                 functions a library of their own"
            ));
        }
        if let Some(earlier) = self.info(name) {
            let how = match earlier.reach {
                Reach::Main => "add_script_function",
                Reach::Every => "add_worker_script_function",
            };
            return Err(format!("`{name}` is registered already, by {how}"));
        }
        Ok(())
    }

    /// Builds the system functions for `world` (once), and returns what installs every
    /// function. Later registrations are refused.
    pub fn build(world: &mut World) -> GameLibraries {
        let Some(mut functions) = world.remove_resource::<ScriptFunctions>() else {
            return GameLibraries::default();
        };
        functions.sealed = true;
        let entries = std::mem::take(
            functions
                .entries
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let mut installs = Vec::with_capacity(entries.len());
        for (entry, info) in entries.into_iter().zip(&functions.infos) {
            let install = match entry {
                Source::Build(Builder(build)) => {
                    let built = build(world, info.name);
                    functions.ticks.push(built.ticks);
                    built.install
                }
                Source::Ready(install) => install,
            };
            installs.push((info.clone(), install));
        }
        *functions
            .entries
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = installs
            .iter()
            .map(|(_, install)| Source::Ready(Arc::clone(install)))
            .collect();
        world.insert_resource(functions);
        GameLibraries(Arc::new(installs))
    }

    /// Checks the change ticks of every system function.
    pub fn check_change_ticks(&self, check: CheckChangeTicks) {
        for ticks in &self.ticks {
            ticks.check_change_tick(check);
        }
    }
}

/// The game's functions, ready to install in the VMs.
#[derive(Clone, Default)]
pub(crate) struct GameLibraries(Arc<Vec<(FunctionInfo, Arc<dyn Install>)>>);

impl GameLibraries {
    /// Adds the game's libraries to `globals` of a VM, before it is sealed: in the main VM every
    /// function, in a worker VM the plain functions and a stand-in for each system.
    pub fn install(&self, lua: &Lua, globals: &Table, main: bool) -> mlua::Result<()> {
        let mut libraries: BTreeMap<&str, Table> = BTreeMap::new();
        for (info, install) in self.0.iter() {
            let function = if main || info.reach == Reach::Every {
                install.create(lua, info.name)?
            } else {
                stub(lua, info.name)?
            };
            let library = match libraries.get(info.library()) {
                Some(library) => library.clone(),
                None => {
                    if globals.contains_key(info.library())? {
                        return Err(mlua::Error::runtime(format!(
                            "`{}` is a global of the VM already",
                            info.library()
                        )));
                    }
                    let library = lua.create_table()?;
                    libraries.insert(info.library(), library.clone());
                    library
                }
            };
            library.raw_set(info.function(), function)?;
        }
        for (name, library) in libraries {
            library.set_readonly(true);
            globals.raw_set(name, library)?;
        }
        Ok(())
    }
}

/// Registers a system function: see `ScriptingAppExt::add_script_function`.
pub(crate) fn add_system<M>(world: &mut World, name: &str, function: impl IntoScriptFunction<M>) {
    let (source, signature, doc) = function.into_parts();
    world.get_resource_or_init::<ScriptFunctions>().register(
        name,
        source,
        signature,
        doc,
        Reach::Main,
    );
}

/// Registers a plain function: see `ScriptingAppExt::add_worker_script_function`.
pub(crate) fn add_plain<M>(
    world: &mut World,
    name: &str,
    function: impl IntoWorkerScriptFunction<M>,
) {
    let (install, signature, doc) = function.into_parts();
    world.get_resource_or_init::<ScriptFunctions>().register(
        name,
        Source::Ready(install),
        signature,
        doc,
        Reach::Every,
    );
}
