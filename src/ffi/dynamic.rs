//! Fast functions whose body is a value rather than a type: the game's own functions
//! (`app.add_script_function`), one C function for all of them.
//!
//! A dynamic function is a closure of [`Dynamic`] with three upvalues: the VM's [`Shared`] (a
//! null pointer in a VM without one, such as a worker), the safe implementation, and a userdata
//! of the [`BODY`] tag holding the boxed [`Body`]. The body runs the call when it can and, like
//! every fast function, hands the rest to the safe implementation.

use super::shared::Shared;
use super::stack::{Fast, Stack, Type, UPVALUES};
use bevy_ecs::entity::Entity;
use bevy_math::Vec3;
use mlua::ffi;
use std::ffi::{CStr, c_int, c_void};

/// The body of a dynamic function.
pub(crate) trait Body: Send + 'static {
    /// Runs a call: `Some(n)` when it pushed its `n` results, `None` to hand the call to the
    /// safe implementation. It may run again, for another call, before it returns (the
    /// function it runs can reach Lua), so it takes `&self`.
    fn call(&self, stack: Stack<'_>) -> Option<c_int>;
}

/// The userdata tag of dynamic function bodies (see `super::userdata` for the others).
const BODY: c_int = 102;

/// What a dynamic function's box holds.
type Boxed = Box<dyn Body>;

/// The C function of every dynamic function: runs the body in upvalue 3.
struct Dynamic;

impl Fast for Dynamic {
    const NAME: &'static CStr = c"function";
    fn call(stack: Stack<'_>) -> Option<c_int> {
        stack.body()?.call(stack)
    }
}

impl<'call> Stack<'call> {
    /// The body of the running dynamic function.
    fn body(&self) -> Option<&'call dyn Body> {
        // SAFETY: upvalue pseudo-indices are always acceptable; `lua_touserdatatagged` is null
        // unless the value is a userdata with the `BODY` tag, which only `function` makes, and
        // it holds a `Boxed` from creation to collection. Only shared references to it are
        // made, so a call that runs while another is inside the same body aliases nothing.
        unsafe {
            let block =
                ffi::lua_touserdatatagged(self.raw(), ffi::lua_upvalueindex(UPVALUES + 1), BODY)
                    as *const Boxed;
            block.as_ref().map(|boxed| &**boxed)
        }
    }

    /// The argument at `index` as a [`Scalar`].
    #[inline]
    pub fn scalar(&self, index: c_int) -> Scalar<'call> {
        let kind = self.kind(index);
        match kind {
            Type::Nil => Scalar::Nil,
            Type::Boolean => self.boolean(index).map_or(Scalar::Other, Scalar::Boolean),
            Type::Number => self
                .number_of(index, kind)
                .map_or(Scalar::Other, Scalar::Number),
            Type::Vector => self.vector(index).map_or(Scalar::Other, Scalar::Vector),
            Type::LightUserData => self.entity(index).map_or(Scalar::Other, Scalar::Entity),
            Type::String => self
                .string(index)
                .map_or(Scalar::Other, |text| Scalar::String(text.bytes())),
            _ => Scalar::Other,
        }
    }

    /// Pushes `value`.
    #[inline]
    pub fn push_output(&self, value: &Output) {
        match value {
            Output::Nil => self.push_nil(),
            Output::Boolean(b) => self.push_bool(*b),
            Output::Number(n) => self.push_number(*n),
            Output::Vector(v) => self.push_vector(*v),
            Output::Entity(e) => self.push_entity(*e),
            Output::String(s) => self.push_str(s.as_bytes()),
        }
    }
}

/// A Lua value as a dynamic function's body reads it off the stack without mlua: the simple
/// types, borrowed for the length of the call. Anything else is [`Scalar::Other`], for the safe
/// implementation to convert.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    /// `nil`, or an argument past the last.
    Nil,
    /// A boolean.
    Boolean(bool),
    /// A number.
    Number(f64),
    /// A vector.
    Vector(Vec3),
    /// An entity.
    Entity(Entity),
    /// The bytes of a string.
    String(&'a [u8]),
    /// Anything else: a table, a function, a userdata...
    Other,
}

/// A result a dynamic function's body pushes without mlua.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// `nil`.
    Nil,
    /// A boolean.
    Boolean(bool),
    /// A number.
    Number(f64),
    /// A vector.
    Vector(Vec3),
    /// An entity.
    Entity(Entity),
    /// A string.
    String(String),
}

/// Creates a dynamic function named `name` (for tracebacks) running `body`, with `slow` as
/// its safe implementation. In a VM with [`Shared`] (a main VM) the body's stack has it.
pub(crate) fn function(
    lua: &mlua::Lua,
    name: &'static CStr,
    body: Box<dyn Body>,
    slow: mlua::Function,
) -> mlua::Result<mlua::Function> {
    unsafe extern "C" fn drop_body(_state: *mut ffi::lua_State, block: *mut c_void) {
        // SAFETY: Luau calls this once, when a userdata of the `BODY` tag is collected; every
        // such userdata holds a `Boxed` (see below), never used again.
        unsafe { std::ptr::drop_in_place(block.cast::<Boxed>()) }
    }
    let shared = Shared::of(lua).map_or(std::ptr::null_mut(), |shared| {
        std::ptr::from_ref(shared).cast_mut().cast::<c_void>()
    });
    let mut body = Some(body);
    // SAFETY: `exec_raw` pushes `slow` and runs the closure in a protected call. It registers
    // the tag's destructor (idempotent), puts the light userdata of `shared` under `slow`, and
    // pushes a new userdata of the tag, written with the box before anything can read it (Luau
    // aligns blocks to 8 bytes and raises a memory error rather than returning null; if it
    // raises, `body` is still ours and is dropped by Rust). `lua_pushcclosurek` pops the three
    // as upvalues in that order and leaves the closure, which `exec_raw` returns. `name` is
    // static, as Luau keeps the pointer.
    unsafe {
        lua.exec_raw((slow,), |state| {
            ffi::lua_setuserdatadtor(state, BODY, Some(drop_body));
            ffi::lua_pushlightuserdatatagged(state, shared, 0);
            ffi::lua_insert(state, -2);
            let block = ffi::lua_newuserdatatagged(state, std::mem::size_of::<Boxed>(), BODY)
                .cast::<Boxed>();
            if let Some(body) = body.take() {
                block.write(body);
            }
            ffi::lua_pushcclosurek(
                state,
                super::stack::trampoline::<Dynamic>,
                name.as_ptr(),
                UPVALUES + 1,
                None,
            );
        })
    }
}

/// A `'static` C string of `text` for a dynamic function's name: interned, so that building
/// many apps with the same functions (as tests do) keeps one copy of each name.
pub(crate) fn static_name(text: &str) -> &'static CStr {
    use std::collections::HashSet;
    use std::sync::{Mutex, PoisonError};
    static NAMES: Mutex<Option<HashSet<&'static CStr>>> = Mutex::new(None);
    let owned = std::ffi::CString::new(text.replace('\0', "?")).unwrap_or_default();
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(name) = names.get(owned.as_c_str()) {
        return name;
    }
    let name: &'static CStr = Box::leak(owned.into_boxed_c_str());
    names.insert(name);
    name
}
