//! [`Shared`]: what the fast functions of one VM share, and lending it the world.

use super::world::Lent;
use bevy_ecs::world::{World, WorldId};
use mlua::{Lua, ffi};
use std::any::{Any, TypeId};
use std::cell::Cell;
use std::ptr::NonNull;

/// What the layers above keep in a main VM's [`Shared`], one value per type: their caches and
/// other per-VM state. `Send`, as the VM moves between threads with it.
pub(crate) trait Extension: Any + Send {
    /// The slot of this type, below [`SLOTS`] and distinct for every extension type.
    const SLOT: usize;

    /// Forgets what belongs to the world lent before (component ids): another world is lent.
    fn forget_world(&self) {}
}

/// How many extensions a VM can hold.
pub(crate) const SLOTS: usize = 8;

/// [`Extension::forget_world`] of a value whose type is not known here.
trait Erased {
    fn forget_world(&self);
}

impl<E: Extension> Erased for E {
    fn forget_world(&self) {
        Extension::forget_world(self);
    }
}

/// One installed extension.
struct Slot {
    /// The extension's type.
    type_id: TypeId,
    /// Its block, read as its type without a call through the vtable.
    block: NonNull<()>,
    /// The extension itself, owned here for the VM's whole life.
    owner: Box<dyn Erased>,
}

/// What the fast functions of one VM share: the lent world and the layer above's extensions.
/// Owned by the VM's app data; upvalue 1 of every fast function points at it.
pub(crate) struct Shared {
    /// The world of the running step.
    pub lent: Lent,
    /// The key of the VM (see [`vm_key`]).
    pub vm: usize,
    /// The extensions, by [`Extension::SLOT`].
    slots: [Option<Slot>; SLOTS],
}

/// The app data that owns [`Shared`]. Private to this module: nothing else can replace or
/// remove it, so the `Shared` lives exactly as long as the VM.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
struct SharedBox(Box<Shared>);

// SAFETY: a VM and its app data move between threads as a whole, and only the thread holding the
// VM (mlua's lock) touches them; `Shared` is never shared between threads at once. Its
// extensions are `Send` (the trait requires it); the world pointer is set only for the length of
// a lend, which holds the lock, so it never crosses threads.
unsafe impl Send for SharedBox {}

/// What [`Shared::install`] takes: the extensions, each put in its slot.
#[derive(Default)]
pub(crate) struct Extensions([Option<Slot>; SLOTS]);

impl Extensions {
    /// Adds `extension`; fails when its slot is taken (by another type, or by this one).
    pub fn with<E: Extension>(mut self, extension: E) -> mlua::Result<Self> {
        let slot = self
            .0
            .get_mut(E::SLOT)
            .ok_or_else(|| mlua::Error::runtime("an extension's slot is out of range"))?;
        if slot.is_some() {
            return Err(mlua::Error::runtime("two extensions share a slot"));
        }
        let owner: Box<E> = Box::new(extension);
        let block = NonNull::from(&*owner).cast::<()>();
        *slot = Some(Slot {
            type_id: TypeId::of::<E>(),
            block,
            owner,
        });
        Ok(self)
    }
}

impl Shared {
    /// Creates the shared state of a main VM, with `extensions`. Call once, before creating its
    /// fast functions.
    pub fn install(lua: &Lua, extensions: Extensions) -> mlua::Result<()> {
        if lua.app_data_ref::<SharedBox>().is_some() {
            return Err(mlua::Error::runtime("the fast path is installed already"));
        }
        let shared = Shared {
            lent: Lent::default(),
            vm: vm_key(lua)?,
            slots: extensions.0,
        };
        lua.set_app_data(SharedBox(Box::new(shared)));
        Ok(())
    }

    /// The extension of type `E`, when one was installed.
    #[inline]
    pub fn extension<E: Extension>(&self) -> Option<&E> {
        let slot = self.slots.get(E::SLOT)?.as_ref()?;
        (slot.type_id == TypeId::of::<E>()).then(|| {
            // SAFETY: the block is that of `slot.owner`, which `self` owns and never replaces
            // or drops before itself, and which was made as an `E` (its type id is `E`'s,
            // checked above). Only shared references to it are made.
            unsafe { slot.block.cast::<E>().as_ref() }
        })
    }

    /// Forgets what belongs to the world lent before, in every extension.
    pub(super) fn forget_world(&self) {
        for slot in self.slots.iter().flatten() {
            slot.owner.forget_world();
        }
    }

    /// The shared state of `lua`, when it is a main VM. Private to `ffi`: a reference to it may
    /// be used only while the VM's lock is held (see [`Shared::with`]).
    pub(super) fn of(lua: &Lua) -> Option<&Shared> {
        let shared: *const Shared = &*lua.app_data_ref::<SharedBox>()?.0;
        // SAFETY: the box is installed once and never replaced or removed (see `SharedBox`),
        // so it lives as long as the VM, which outlives the borrow of `lua`. Only shared
        // references to it are made, and its mutable parts are cells.
        Some(unsafe { &*shared })
    }

    /// Runs `f` with the shared state of `lua` (`None` unless it is a main VM), holding the
    /// VM's lock meanwhile, so that no other thread runs the VM while `f` reads or changes
    /// the state's cells.
    pub fn with<R>(lua: &Lua, f: impl FnOnce(&Shared) -> R) -> Option<R> {
        lua.exec_raw_lua(|_| Self::of(lua).map(f))
    }
}

thread_local! {
    /// The VM whose world is lent on this thread (innermost, if lends nest): its key (see
    /// [`vm_key`]) and its shared state.
    static RUNNING: Cell<Option<(usize, *const Shared)>> = const { Cell::new(None) };
}

/// The shared state of the VM named `vm`, if its world is lent on this thread.
pub(crate) fn running<'a>(vm: usize) -> Option<&'a Shared> {
    let (key, shared) = RUNNING.get()?;
    // SAFETY: `lend_world` stores the `Shared` of its VM here for as long as it runs and takes
    // it away before it returns, and the VM (so the `Shared`) outlives that call; the caller
    // runs inside the lend of the VM named `vm`, so the reference does not outlive it.
    (key == vm).then(|| unsafe { &*shared })
}

/// Gives Lua the world for the length of `f`; restores what was lent before (nothing, or the
/// world of an outer call) before it returns, whatever `f` does. `None`, without running `f`,
/// when `lua` is not a main VM (it has no [`Shared`]).
pub(crate) fn lend_world<R>(lua: &Lua, world: &mut World, f: impl FnOnce() -> R) -> Option<R> {
    let id = world.id();
    // SAFETY: the pointer is made from a `&mut World` held for the whole call.
    unsafe { lend(lua, NonNull::from(world), false, id, f) }
}

/// Gives Lua the world read-only for the length of `f`, as [`lend_world`] does otherwise:
/// [`Lent::borrow`] refuses while it is lent, and [`Lent::borrow_ref`] hands out shared
/// references.
///
/// Other threads may lend the same world to other VMs at the same time (the parallel phase of
/// actor VMs): each VM has a `Shared` of its own, reached only under its own lock, and while any
/// of them holds the world only shared references to it exist (the caller's `&World` freezes
/// the `&mut World` it came from), which `World: Sync` allows on any number of threads.
pub(crate) fn lend_world_ref<R>(lua: &Lua, world: &World, f: impl FnOnce() -> R) -> Option<R> {
    // SAFETY: the pointer is made from a `&World` held for the whole call, and lent read-only.
    unsafe { lend(lua, NonNull::from(world), true, world.id(), f) }
}

/// [`lend_world`] and [`lend_world_ref`]: stores `world`, the world whose id is `id`, for the
/// length of `f`.
///
/// # Safety
///
/// `world` is valid for the whole call: made from a `&mut World`, or from a `&World` with
/// `read_only` set, that the caller holds until this returns.
unsafe fn lend<R>(
    lua: &Lua,
    world: NonNull<World>,
    read_only: bool,
    id: WorldId,
    f: impl FnOnce() -> R,
) -> Option<R> {
    struct Restore<'a> {
        lent: &'a Lent,
        world: Option<NonNull<World>>,
        read_only: bool,
        borrowed: bool,
        running: Option<(usize, *const Shared)>,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            self.lent.world.set(self.world);
            self.lent.read_only.set(self.read_only);
            self.lent.borrowed.set(self.borrowed);
            RUNNING.set(self.running);
        }
    }
    // The VM's lock is held for the whole lend, so no other thread runs the VM (and reaches the
    // world through it) until the lend is over; this thread's own calls take it again.
    Shared::with(lua, |shared| {
        if shared.lent.last.replace(Some(id)) != Some(id) {
            // Component ids belong to one world.
            shared.forget_world();
        }
        let lent = &shared.lent;
        let _restore = Restore {
            lent,
            world: lent.world.replace(Some(world)),
            read_only: lent.read_only.replace(read_only),
            borrowed: lent.borrowed.replace(false),
            running: RUNNING.replace(Some((shared.vm, std::ptr::from_ref(shared)))),
        };
        f()
    })
}

/// The address that names `lua`'s VM inside direct-access calls: that of its callbacks.
pub(super) fn vm_key(lua: &mlua::Lua) -> mlua::Result<usize> {
    let mut key = 0;
    // SAFETY: in a protected call, only computes the address of the VM's callbacks.
    unsafe {
        lua.exec_raw::<()>((), |state| {
            key = ffi::lua_callbacks(state).addr();
        })?;
    }
    Ok(key)
}
