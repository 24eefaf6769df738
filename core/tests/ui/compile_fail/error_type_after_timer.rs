//! The error type is fixed before the timer: a node with a timeout added before `with_error`
//! would fail with the old error type (`Infallible`) into a run expecting the new one.

use std::future::Ready;
use std::time::Duration;

use dagfut::{DagBuilder, Timer};

#[derive(Clone, Copy)]
struct NoWait;

impl Timer for NoWait {
    type Sleep = Ready<()>;
    fn sleep(&self, _: Duration) -> Ready<()> {
        std::future::ready(())
    }
}

async fn never(_: &()) -> u32 {
    std::future::pending().await
}

fn main() {
    let b = DagBuilder::<()>::new().with_timer(NoWait);
    b.named("stuck").timeout(Duration::from_millis(1)).add_node(never, b.param());
    let _ = b.with_error::<String>();
}
