-- The function_call workload of src/main.rs: one call of `on_run` calls `add_one`, a Rust closure
-- (`|x: f64| x + 1.0`) that src/main.rs registers in BMS's global namespace
-- (`NamespaceBuilder::<GlobalNamespace>`), so that it is a global of every script, 100,000
-- times, feeding each result into the next call. It returns the sum, which Rust checks.
local ITERATIONS = 100000

function on_run()
    local sum = 0
    for _ = 1, ITERATIONS do
        sum = add_one(sum)
    end
    return sum
end
