//! Bytes → a spec and a schedule, for the fuzzer.

use alloc::vec;
use alloc::vec::Vec;

use super::drive::{Seeded, WakerOp, WakerPanic};
use super::{DropPanic, Guard, NodeSpec, Policy, Spec};

/// Decodes bytes into a spec of at most `max_nodes` nodes and a schedule (for the fuzzer).
/// Missing bytes read as 0.
///
/// | bytes    | meaning |
/// |----------|---------|
/// | `0..8`   | the schedule's seed, which also gives the run a poll budget of `(seed >> 2) % 8 + 1` node polls if it is a multiple of 4 |
/// | `8`      | bit 0: `try_run` (else `run_settled`); bit 1: `catch_panics`; bit 2: some wakes from another thread; bits 3–4: whose `Drop` panics (1: a future, 2: an output); bit 5: drop the run early; bit 6: `run` instead (no node then fails, has a policy or has its panics caught); bit 7: a task waker call panics (see byte 10) |
/// | `9`      | the node whose `Drop` panics (modulo the node count) |
/// | `10`     | bits 0–3: after how many polls the run is dropped, if bit 5 of byte 8 says so; if bit 7 of byte 8 says so, bits 4–5: which task waker call panics (0: a clone, 1 or 3: a wake, 2: a drop), bits 6–7: the how manieth (1 to 4, over the run) |
/// | 6 a node | `a`: fan-in `a % 5`, wakes itself in its last poll if `a >= 0xe0`; `b`, `c`: which earlier nodes are inputs; `b % 11 == 0`: fails; `c % 4`: parks; `d % 32 == 1`: panics in its last poll; `d >= 0xc0`: wakes the finished node `d` picks in its last poll; `e`: bit `k` makes input `k` optional; `f`: bit 0: a policy, with `(f >> 1) % 4` retries, `(f >> 3) % 4` attempts that fail first, a fallback value if bit 5, a backoff on the timer if bit 6; bit 7: touches its waker only to park or wake itself |
pub fn decode(bytes: &[u8], max_nodes: usize) -> (Spec, Seeded) {
    let byte = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for &b in bytes.iter().take(8) {
        seed = seed.rotate_left(8) ^ u64::from(b);
    }
    let flags = byte(8);
    let mut schedule = Seeded::new(seed).with_budget(budget_from(seed));
    schedule.threads = flags & 0b100 != 0;
    schedule.drop_after = (flags & 0b10_0000 != 0).then_some(u32::from(byte(10) % 16));
    schedule.waker_panic = (flags & 0x80 != 0).then(|| WakerPanic {
        op: match (byte(10) >> 4) & 0b11 {
            0 => WakerOp::Clone,
            2 => WakerOp::Drop,
            _ => WakerOp::Wake,
        },
        nth: u32::from(byte(10) >> 6) + 1,
    });
    let mut nodes: Vec<NodeSpec> = Vec::new();
    let run = flags & 0b100_0000 != 0;
    for chunk in bytes.get(11..).unwrap_or_default().chunks(6) {
        if nodes.len() == max_nodes {
            break;
        }
        let index = nodes.len();
        let [a, b, c, d, e, f] = [0, 1, 2, 3, 4, 5].map(|i| chunk.get(i).copied().unwrap_or(0));
        let fan_in = if index == 0 { 0 } else { usize::from(a % 5) };
        let inputs = (0..fan_in)
            .map(|k| (usize::from(b) * 31 + usize::from(c) * 7 + k * 13) % index)
            .collect();
        nodes.push(NodeSpec {
            inputs,
            optional: (0..fan_in).map(|k| e & (1 << k) != 0).collect(),
            parks: c % 4,
            fails: b % 11 == 0 && !run,
            panics: d % 32 == 1,
            wakes_itself: a >= 0xe0,
            wakes_finished: (d >= 0xc0).then_some(d),
            guard: (f & 1 != 0 && !run).then_some(Guard {
                retries: (f >> 1) % 4,
                failing_attempts: (f >> 3) % 4,
                fallback: f & 0x20 != 0,
                pause: f & 0x40 != 0,
            }),
            leaves_waker: f & 0x80 != 0,
        });
    }
    let victim = usize::from(byte(9)) % nodes.len().max(1);
    let drop_panic = match (flags >> 3) & 0b11 {
        _ if nodes.is_empty() => None,
        1 => Some(DropPanic::Future(victim)),
        2 => Some(DropPanic::Output(victim)),
        _ => None,
    };
    let spec = Spec {
        nodes,
        policy: if run {
            Policy::Run
        } else if flags & 1 != 0 {
            Policy::TryRun
        } else {
            Policy::Settled
        },
        catch_panics: flags & 0b10 != 0 && !run,
        drop_panic,
    };
    (spec, schedule)
}

/// `spec` with plain nodes added after its own until it has `nodes` nodes (for the fuzzer,
/// whose decoded specs stay under 65 nodes: a run of more than 64 tasks keeps its ready queue
/// in a list instead of two bitmasks). The spec's own nodes keep their indexes, inputs and
/// failures. An added node never parks, fails or panics. The first added is a root; after
/// it, each odd one takes one of the spec's nodes as an optional input (so it is released
/// when that node ends, however it ends), and each even one (each one, if the spec has no
/// nodes) takes the node before it.
pub fn padded(spec: &Spec, nodes: usize) -> Spec {
    let own = spec.nodes.len();
    let mut padded = spec.clone();
    for index in own..nodes {
        let (inputs, optional) = if index == own {
            (Vec::new(), Vec::new())
        } else if index % 2 == 1 && own > 0 {
            (vec![index * 7 % own], vec![true])
        } else {
            (vec![index - 1], vec![false])
        };
        padded.nodes.push(NodeSpec {
            inputs,
            optional,
            ..NodeSpec::default()
        });
    }
    padded
}

/// The schedules [`super::check_overlapping`] runs a decoded spec with (for the fuzzer):
/// four runs, the first under `schedule` itself, and the order of their turns. Each of the
/// other runs and the order draw from a seed of their own, mixed from the decoded one and
/// their number (so their numbers are not the first run's, shifted); the runs keep the
/// decoded schedule's threads, and each draws from its seed whether it is dropped early (at
/// a point of its own, if the decoded schedule drops its run) and whether the decoded task
/// waker panic is armed in it, and its own poll budget (as [`decode`] draws one).
pub fn overlapping(schedule: &Seeded) -> ([Seeded; 4], Seeded) {
    let base = schedule.clone().next_u64();
    let seed = |k: u64| splitmix64(base ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let derived = |k: u64| {
        let seed = seed(k);
        Seeded::new(seed)
            .with_threads(schedule.threads)
            .with_drop_after(
                schedule
                    .drop_after
                    .filter(|_| seed & 1 == 0)
                    .map(|polls| (polls + (seed >> 1) as u32 % 8) % 16),
            )
            .with_waker_panic(schedule.waker_panic.filter(|_| seed & 0b10 == 0))
            .with_budget(budget_from(seed >> 8))
    };
    let runs = [schedule.clone(), derived(1), derived(2), derived(3)];
    let order = Seeded::new(seed(4)).with_threads(schedule.threads);
    (runs, order)
}

/// A poll budget of 1 to 8 node polls in a quarter of the seeds (see [`decode`]), none in
/// the rest.
fn budget_from(seed: u64) -> Option<usize> {
    (seed % 4 == 0).then_some((seed >> 2) as usize % 8 + 1)
}

/// SplitMix64's finaliser: a well-mixed number from `x`.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
