-- The on_update workloads of src/main.rs: each entity's `on_update` adds `dt` to a field of
-- its own. BMS gives every entity script a context (a Luau VM) of its own by default, so the
-- script's top-level state is per entity, like `self` in bevy_luau's mover.luau.
local state = { n = 0 }

function on_script_loaded()
    state.n = 0
end

function on_update(dt)
    state.n += dt
end

-- Called once by Rust after the timing, to check that `on_update` ran; never per frame.
function get_n()
    return state.n
end
