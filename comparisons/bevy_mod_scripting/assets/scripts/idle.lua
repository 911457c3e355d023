-- The idle_frame workload of src/main.rs: an entity script that sets up its state when it is
-- loaded and has no per-frame callback.
local state = { n = 0 }

function on_script_loaded()
    state.n = 0
end
