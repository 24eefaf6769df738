//! Adding a node with a policy: a timeout, retries, a fallback.

use alloc::borrow::Cow;
use core::time::Duration;

use crate::builder::{DagBuilder, added};
use crate::error::BuildError;
use crate::flavor::{Flavor, Value};
use crate::inputs::{GuardedInputs, GuardedTryInputs, WithState};
use crate::node::Node;
use crate::policy::{Backoff, Fallback, NoFallback, OrNode, OrValue, Spec, Timer};

/// A builder about to add a node with a policy: a timeout per attempt, retries with a
/// backoff, a fallback. Made by [`DagBuilder::named`] then [`timeout`](Self::timeout),
/// [`retry`](Self::retry), [`or_value`](Self::or_value) or [`or_node`](Self::or_node), in any
/// order, and ended by one of the adding methods.
///
/// A node with a policy is retried when it returns `Err` or times out (a panic is not
/// retried): its failed attempt is dropped, the backoff sleep runs, and its function is called
/// again on the same inputs. Two attempts of one node never run at once. The observer sees
/// each attempt ([`NodeEvent`](crate::NodeEvent)'s `AttemptFailed`, `TimedOut`, `Retrying`,
/// `FellBack`). Once the last attempt fails, the node fails as any node does, with an error
/// that names it once and says how ([`DagError::TimedOut`](crate::DagError::TimedOut),
/// [`DagError::Exhausted`](crate::DagError::Exhausted)), unless it has a fallback: then its
/// dependents receive the fallback and the failure is recorded.
///
/// Timeouts and backoffs sleep on the builder's timer ([`DagBuilder::with_timer`]).
///
/// # Examples
///
/// A product page that degrades gracefully: the recommendations time out after 50 ms, retry
/// once, and fall back to none.
///
/// ```
/// use core::time::Duration;
/// use dagfut::{Backoff, DagBuilder, Timer};
///
/// # #[derive(Clone, Copy)]
/// # struct NoWait;
/// # impl Timer for NoWait {
/// #     type Sleep = core::future::Ready<()>;
/// #     fn sleep(&self, _: Duration) -> Self::Sleep { core::future::ready(()) }
/// # }
/// async fn product(id: &u32) -> Result<String, String> {
///     Ok(format!("product {id}"))
/// }
///
/// async fn recommendations(_: &u32) -> Result<Vec<String>, String> {
///     Err("the recommender is down".to_string())
/// }
///
/// async fn page(product: &String, recs: &Vec<String>) -> String {
///     format!("{product} ({} recommendations)", recs.len())
/// }
///
/// let ms = Duration::from_millis;
/// let b = DagBuilder::<u32>::new().with_error::<String>().with_timer(NoWait);
/// let product = b.named("product").add_try_node(product, b.param());
/// let recs = b
///     .named("recs")
///     .timeout(ms(50))
///     .retry(1, Backoff::fixed(ms(10)))
///     .or_value(Vec::new())
///     .add_try_node(recommendations, b.param());
/// let page = b.named("page").add_node(page, (product, recs));
/// let dag = b.build();
///
/// let settled = futures_executor::block_on(dag.run_settled(&7));
/// assert_eq!(settled.outputs[page], "product 7 (0 recommendations)");
/// assert_eq!(
///     settled.errors[0].to_string(),
///     "node `recs` (task #1) failed after 2 attempts: the recommender is down"
/// );
/// ```
#[derive(Debug)]
pub struct Guarded<'b, P, K: Flavor, E, Tm, Fb> {
    pub(crate) builder: &'b DagBuilder<P, K, E, Tm>,
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) spec: Spec,
    pub(crate) fallback: Fb,
}

impl<'b, P, K: Flavor, E, Tm> Guarded<'b, P, K, E, Tm, NoFallback> {
    pub(crate) fn new(
        builder: &'b DagBuilder<P, K, E, Tm>,
        name: Option<Cow<'static, str>>,
    ) -> Self {
        Guarded {
            builder,
            name,
            spec: Spec::NONE,
            fallback: NoFallback,
        }
    }
}

impl<'b, P, K: Flavor, E, Tm, Fb> Guarded<'b, P, K, E, Tm, Fb> {
    /// Each attempt of the node has `after` to complete: past it, the attempt is dropped and
    /// counts as failed ([`DagError::TimedOut`](crate::DagError::TimedOut) if it was the
    /// last). A node with a timeout can fail even if its function cannot, so its DAG runs with
    /// [`try_run`](crate::Dag::try_run) or [`run_settled`](crate::Dag::run_settled).
    pub fn timeout(mut self, after: Duration) -> Self
    where
        Tm: Timer,
    {
        self.spec.timeout = Some(after);
        self
    }

    /// When an attempt fails (`Err` or a timeout), the node tries again, up to `retries` more
    /// times, after `backoff`'s delay ([`Backoff::delay`]): `retry(2, ..)` makes at most 3
    /// attempts.
    pub fn retry(mut self, retries: u32, backoff: Backoff) -> Self
    where
        Tm: Timer,
    {
        self.spec.retries = retries;
        self.spec.backoff = backoff;
        self
    }

    /// When the node fails for good (after its last attempt), its value is a clone of
    /// `value`: its dependents run, and the failure is recorded
    /// ([`Settled::errors`](crate::Settled::errors), [`Outputs::failed`](crate::Outputs::failed),
    /// the observer's [`FellBack`](crate::NodeEvent::FellBack)). A `try_run` goes on.
    pub fn or_value<V>(self, value: V) -> Guarded<'b, P, K, E, Tm, OrValue<V>> {
        self.with_fallback(OrValue(value))
    }

    /// When the node fails for good, its value is a clone of `other`'s: the handle the adding
    /// method returns is that of a node which waits for both and takes the node's value, or
    /// `other`'s if the node failed (named as the node, with ` | fallback`). The failure is
    /// recorded as with [`or_value`](Self::or_value); if `other` fails too, the handle's node
    /// is skipped.
    pub fn or_node<V>(self, other: Node<V>) -> Guarded<'b, P, K, E, Tm, OrNode<V>> {
        self.with_fallback(OrNode(other))
    }

    fn with_fallback<Fb2>(self, fallback: Fb2) -> Guarded<'b, P, K, E, Tm, Fb2> {
        Guarded {
            builder: self.builder,
            name: self.name,
            spec: self.spec,
            fallback,
        }
    }
}

impl<P, K: Flavor, E, Tm: Clone, Fb> Guarded<'_, P, K, E, Tm, Fb> {
    /// [`DagBuilder::add_node`], with the policy.
    ///
    /// # Panics
    /// As [`DagBuilder::add_node`].
    #[track_caller]
    pub fn add_node<F, I>(self, f: F, inputs: I) -> Node<I::Output>
    where
        I: GuardedInputs<F, K, E, Tm, Fb>,
        Fb: Fallback<I::Output>,
    {
        added(self.try_add_node(f, inputs))
    }

    /// [`DagBuilder::try_add_node`], with the policy.
    ///
    /// # Errors
    /// As [`DagBuilder::try_add_node`].
    pub fn try_add_node<F, I>(self, f: F, inputs: I) -> Result<Node<I::Output>, BuildError>
    where
        I: GuardedInputs<F, K, E, Tm, Fb>,
        Fb: Fallback<I::Output>,
    {
        let builder = self.builder;
        builder.add_guarded(f, inputs, self)
    }

    /// [`DagBuilder::add_try_node`], with the policy.
    ///
    /// # Panics
    /// As [`DagBuilder::add_node`].
    #[track_caller]
    pub fn add_try_node<F, I>(self, f: F, inputs: I) -> Node<I::Output>
    where
        I: GuardedTryInputs<F, K, E, Tm, Fb>,
        Fb: Fallback<I::Output>,
    {
        added(self.try_add_try_node(f, inputs))
    }

    /// [`DagBuilder::try_add_try_node`], with the policy.
    ///
    /// # Errors
    /// As [`DagBuilder::try_add_node`].
    pub fn try_add_try_node<F, I>(self, f: F, inputs: I) -> Result<Node<I::Output>, BuildError>
    where
        I: GuardedTryInputs<F, K, E, Tm, Fb>,
        Fb: Fallback<I::Output>,
    {
        let builder = self.builder;
        builder.add_guarded(f, inputs, self)
    }

    /// [`DagBuilder::add_node_with`], with the policy.
    ///
    /// # Panics
    /// As [`DagBuilder::add_node`].
    #[track_caller]
    pub fn add_node_with<S, F, I>(
        self,
        state: S,
        f: F,
        inputs: I,
    ) -> Node<<I::With as GuardedInputs<F, K, E, Tm, Fb>>::Output>
    where
        S: Value<K>,
        I: WithState<S>,
        I::With: GuardedInputs<F, K, E, Tm, Fb>,
        Fb: Fallback<<I::With as GuardedInputs<F, K, E, Tm, Fb>>::Output>,
    {
        added(self.try_add_node_with(state, f, inputs))
    }

    /// [`DagBuilder::try_add_node_with`], with the policy.
    ///
    /// # Errors
    /// As [`DagBuilder::try_add_node`].
    #[allow(clippy::type_complexity)] // the handle's type, spelled out
    pub fn try_add_node_with<S, F, I>(
        self,
        state: S,
        f: F,
        inputs: I,
    ) -> Result<Node<<I::With as GuardedInputs<F, K, E, Tm, Fb>>::Output>, BuildError>
    where
        S: Value<K>,
        I: WithState<S>,
        I::With: GuardedInputs<F, K, E, Tm, Fb>,
        Fb: Fallback<<I::With as GuardedInputs<F, K, E, Tm, Fb>>::Output>,
    {
        let builder = self.builder;
        builder.add_with_state(state, inputs, |inputs| builder.add_guarded(f, inputs, self))
    }

    /// [`DagBuilder::add_try_node_with`], with the policy.
    ///
    /// # Panics
    /// As [`DagBuilder::add_node`].
    #[track_caller]
    pub fn add_try_node_with<S, F, I>(
        self,
        state: S,
        f: F,
        inputs: I,
    ) -> Node<<I::With as GuardedTryInputs<F, K, E, Tm, Fb>>::Output>
    where
        S: Value<K>,
        I: WithState<S>,
        I::With: GuardedTryInputs<F, K, E, Tm, Fb>,
        Fb: Fallback<<I::With as GuardedTryInputs<F, K, E, Tm, Fb>>::Output>,
    {
        added(self.try_add_try_node_with(state, f, inputs))
    }

    /// [`DagBuilder::try_add_try_node_with`], with the policy.
    ///
    /// # Errors
    /// As [`DagBuilder::try_add_node`].
    #[allow(clippy::type_complexity)] // the handle's type, spelled out
    pub fn try_add_try_node_with<S, F, I>(
        self,
        state: S,
        f: F,
        inputs: I,
    ) -> Result<Node<<I::With as GuardedTryInputs<F, K, E, Tm, Fb>>::Output>, BuildError>
    where
        S: Value<K>,
        I: WithState<S>,
        I::With: GuardedTryInputs<F, K, E, Tm, Fb>,
        Fb: Fallback<<I::With as GuardedTryInputs<F, K, E, Tm, Fb>>::Output>,
    {
        let builder = self.builder;
        builder.add_with_state(state, inputs, |inputs| builder.add_guarded(f, inputs, self))
    }
}
