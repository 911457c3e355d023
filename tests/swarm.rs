//! The swarm example, small: its boids are actors spread evenly over the actor VMs, and they
//! fly (each moves, at a speed its script keeps between 2 and 6) with no script error.

#![cfg(feature = "transform")]

#[path = "../examples/swarm/main.rs"]
#[expect(
    dead_code,
    reason = "the command line and the printing are not tested here"
)]
mod swarm;

use bevy_ecs::prelude::*;
use bevy_math::Vec3;
use bevy_transform::components::Transform;
use std::collections::HashMap;
use swarm::{Settings, Velocity};

/// Each boid's translation and velocity.
fn boids(world: &mut World) -> HashMap<Entity, (Vec3, Vec3)> {
    let mut boids = world.query::<(Entity, &Transform, &Velocity)>();
    boids
        .iter(world)
        .map(|(e, t, v)| (e, (t.translation, Vec3::new(v.x, v.y, v.z))))
        .collect()
}

#[test]
fn boids_fly_as_actors_spread_over_every_actor_vm() {
    let settings = Settings {
        boids: 120,
        actors: Some(3),
        frames: 30,
    };
    let mut app = swarm::app(&settings);
    app.finish();
    app.cleanup();
    swarm::load(&mut app, settings.boids).unwrap();
    let before = boids(app.world_mut());
    let outcome = swarm::measure(&mut app, &settings).unwrap();

    assert_eq!(outcome.actor_instances, vec![40, 40, 40]);
    assert!(outcome.neighbours > 0.0, "{outcome:?}");
    let after = boids(app.world_mut());
    assert_eq!(after.len(), settings.boids);
    // Only the scripts move the boids and change their velocities.
    for (boid, (at, _)) in &after {
        assert_ne!(*at, before[boid].0, "{boid} did not move");
    }
    let turned = after
        .iter()
        .filter(|(b, (_, v))| *v != before[*b].1)
        .count();
    assert!(turned > settings.boids / 2, "{turned} boids changed course");
    for (_, velocity) in after.values() {
        let speed = velocity.length();
        assert!((1.99..=6.01).contains(&speed), "speed {speed}");
        assert_eq!(velocity.y, 0.0);
    }
}
