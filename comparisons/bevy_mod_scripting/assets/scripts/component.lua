-- The component_get_set workload of src/main.rs: one call of `on_run` reads the reflected
-- `Health` of the entity this script is attached to (the `entity` global BMS sets for entity
-- scripts), lowers `current` by one, 100,000 times (Rust checks the component afterwards).
-- `world.get_component` returns a live reference into the world: writing a field through it
-- writes the component, so there is no separate set, unlike bevy_luau's `ecs.set`.
local ITERATIONS = 100000
local Health = world.get_type_by_name("Health")

function on_run()
    for _ = 1, ITERATIONS do
        local h = world.get_component(entity, Health)
        h.current = h.current - 1
    end
end
