//! Node policies: a timeout per attempt, retries with a backoff, and a fallback value, declared
//! when the DAG is built and applied around the node's own future.
//!
//! The core has no timer: the builder is given one ([`DagBuilder::with_timer`]), a [`Timer`]
//! that each adapter implements with its runtime's sleep. A node with a policy runs the future
//! of an [`Attempts`], which owns one attempt of the node's function at a time: a failed or
//! timed-out attempt is dropped before the backoff sleep starts and before the next attempt is
//! created, so two attempts of one node never run at once. Its inputs are references into the
//! run, alive for the whole run, so every attempt calls the function with the same ones.
//!
//! [`DagBuilder::with_timer`]: crate::DagBuilder::with_timer

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use pin_project_lite::pin_project;

use alloc::boxed::Box;

use crate::node::{Node, Slot};
use crate::observe::NodeEvent;
use crate::task::{ErasedTask, NodeTask, One, Opt, Plain};

/// A runtime's sleep, for the timeouts and backoffs of node policies.
///
/// Each adapter implements it with its runtime's timer (`dagfut_tokio::TokioTimer`,
/// `dagfut_smol::SmolTimer`, `dagfut_async_executor::AsyncIoTimer`,
/// `dagfut_embassy::EmbassyTimer`); give one to the builder with
/// [`with_timer`](crate::DagBuilder::with_timer). Each node with a policy keeps a clone.
///
/// # Examples
///
/// A timer of your own, here one whose sleeps end at once (a test double):
///
/// ```
/// use core::time::Duration;
/// use dagfut::Timer;
///
/// #[derive(Clone, Copy)]
/// struct Instant;
///
/// impl Timer for Instant {
///     type Sleep = core::future::Ready<()>;
///     fn sleep(&self, _duration: Duration) -> Self::Sleep {
///         core::future::ready(())
///     }
/// }
/// # let _ = Instant.sleep(Duration::ZERO);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a timer",
    note = "timeouts and retries need the builder's timer: give it one with `with_timer`, e.g. \
            `DagBuilder::<P>::new().with_timer(dagfut_tokio::TokioTimer)`"
)]
pub trait Timer: Clone + 'static {
    /// The future of one sleep.
    type Sleep: Future<Output = ()>;
    /// A future that completes once `duration` has passed.
    fn sleep(&self, duration: Duration) -> Self::Sleep;
}

/// The timer of a builder that was given none: nodes of it can have fallbacks, not timeouts or
/// retries (those need [`with_timer`](crate::DagBuilder::with_timer)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NoTimer;

/// How long a node waits before each retry.
///
/// A jitter spreads retries of many runs apart: give it a random source
/// ([`jitter`](Self::jitter)), which on `no_std` is yours to provide (a hardware RNG, a
/// counter).
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use dagfut::Backoff;
///
/// let ms = Duration::from_millis;
/// assert_eq!(Backoff::fixed(ms(10)).delay(3), ms(10));
/// let exponential = Backoff::exponential(ms(10)).max(ms(50));
/// let delays: Vec<_> = (1..=4).map(|retry| exponential.delay(retry)).collect();
/// assert_eq!(delays, [ms(10), ms(20), ms(40), ms(50)]);
/// assert_eq!(Backoff::none().delay(1), Duration::ZERO);
/// ```
#[derive(Clone, Copy)]
pub struct Backoff {
    first: Duration,
    /// Doubles each retry.
    exponential: bool,
    cap: Duration,
    jitter: Option<fn() -> u32>,
}

impl Backoff {
    /// Retries at once.
    pub const fn none() -> Self {
        Backoff::fixed(Duration::ZERO)
    }

    /// The same `delay` before every retry.
    pub const fn fixed(delay: Duration) -> Self {
        Backoff {
            first: delay,
            exponential: false,
            cap: Duration::MAX,
            jitter: None,
        }
    }

    /// `first` before the first retry, twice as long before each next one (see
    /// [`max`](Self::max) for a cap).
    pub const fn exponential(first: Duration) -> Self {
        Backoff {
            exponential: true,
            ..Backoff::fixed(first)
        }
    }

    /// No delay longer than `cap`.
    pub const fn max(self, cap: Duration) -> Self {
        Backoff { cap, ..self }
    }

    /// Each delay `d` becomes a random one between `d / 2` and `d` ("equal jitter"), drawn
    /// from `random`, a source of uniformly random `u32`s.
    ///
    /// ```
    /// use core::time::Duration;
    /// use dagfut::Backoff;
    ///
    /// fn always_max() -> u32 {
    ///     u32::MAX
    /// }
    /// fn always_zero() -> u32 {
    ///     0
    /// }
    /// let ms = Duration::from_millis;
    /// assert_eq!(Backoff::fixed(ms(100)).jitter(always_zero).delay(1), ms(50));
    /// assert!(Backoff::fixed(ms(100)).jitter(always_max).delay(1) <= ms(100));
    /// ```
    pub const fn jitter(self, random: fn() -> u32) -> Self {
        Backoff {
            jitter: Some(random),
            ..self
        }
    }

    /// The delay before retry number `retry` (the first retry is 1).
    pub fn delay(&self, retry: u32) -> Duration {
        let mut delay = self.first;
        if self.exponential {
            let doublings = retry.saturating_sub(1).min(64);
            for _ in 0..doublings {
                if delay >= self.cap {
                    break;
                }
                delay = delay.saturating_mul(2);
            }
        }
        let delay = delay.min(self.cap);
        match self.jitter {
            None => delay,
            Some(random) => {
                let half = delay / 2;
                // `random() / u32::MAX` of the other half, in nanoseconds (exact: u128).
                let spread =
                    (delay - half).as_nanos() * u128::from(random()) / u128::from(u32::MAX);
                let spread = u64::try_from(spread).unwrap_or(u64::MAX);
                half.saturating_add(Duration::from_nanos(spread))
            }
        }
    }
}

impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backoff")
            .field("first", &self.first)
            .field("exponential", &self.exponential)
            .field("cap", &self.cap)
            .field("jitter", &self.jitter.is_some())
            .finish()
    }
}

/// What a node with a policy does: the timeout of each attempt, how many retries, and the
/// backoff before each.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    pub(crate) timeout: Option<Duration>,
    pub(crate) retries: u32,
    pub(crate) backoff: Backoff,
}

impl Spec {
    pub(crate) const NONE: Spec = Spec {
        timeout: None,
        retries: 0,
        backoff: Backoff::none(),
    };

    /// How many attempts the node makes at most, and the timeout of each.
    pub(crate) fn policy(&self) -> (u32, Option<Duration>) {
        (self.retries.saturating_add(1), self.timeout)
    }
}

/// What a node that fails for good falls back to, if anything. Sealed.
pub trait Fallback<T>: sealed::Sealed + 'static {
    /// The value that takes the node's place, or `None` if the node fails.
    #[doc(hidden)]
    fn value(&self) -> Option<T>;
    /// The node whose value takes the node's place, if any.
    #[doc(hidden)]
    fn node(&self) -> Option<Node<T>> {
        None
    }
    /// The task that takes the value of its first source, or of its second if the first
    /// failed (`sources`: the node, then [`node`](Self::node)).
    #[doc(hidden)]
    fn merge_task(sources: [Slot; 2]) -> Box<dyn ErasedTask> {
        let _ = sources;
        unreachable!("dagfut: only a fallback node is merged")
    }
}

/// No fallback: a node that fails for good fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFallback;

/// A fallback value, cloned for each run in which the node fails for good: see
/// [`Guarded::or_value`](crate::Guarded::or_value).
#[derive(Debug, Clone)]
pub struct OrValue<V>(pub(crate) V);

/// A fallback node, whose value is cloned in place of the failed node's: see
/// [`Guarded::or_node`](crate::Guarded::or_node).
#[derive(Debug, Clone, Copy)]
pub struct OrNode<V>(pub(crate) Node<V>);

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::NoFallback {}
    impl<V> Sealed for super::OrValue<V> {}
    impl<V> Sealed for super::OrNode<V> {}
}

impl<T> Fallback<T> for NoFallback {
    #[inline(always)]
    fn value(&self) -> Option<T> {
        None
    }
}

impl<T: Clone + 'static> Fallback<T> for OrValue<T> {
    fn value(&self) -> Option<T> {
        Some(self.0.clone())
    }
}

impl<T: Clone + 'static> Fallback<T> for OrNode<T> {
    #[inline(always)]
    fn value(&self) -> Option<T> {
        None
    }

    fn node(&self) -> Option<Node<T>> {
        Some(self.0)
    }

    fn merge_task(sources: [Slot; 2]) -> Box<dyn ErasedTask> {
        // The node's value if it completed, else the fallback node's: cloned, as a node's
        // value lives in its own slot.
        let call = |_: &'static (), (value, fallback): (Option<&'static T>, &'static T)| {
            core::future::ready(value.unwrap_or(fallback).clone())
        };
        Box::new(NodeTask::<(), (Opt<T>, One<T>), _, _, Plain>::new(
            (),
            call,
            Box::new(sources),
            Box::new([1, 1]),
        ))
    }
}

/// A node function with its policy: what a task with a policy stores instead of the bare
/// function. Its attempts borrow it for the run.
#[allow(unreachable_pub)] // named by the sealed `IntoTask` impls; unreachable from outside
#[derive(Debug)]
pub struct WithPolicy<F, Tm, Fb> {
    pub(crate) f: F,
    pub(crate) timer: Tm,
    pub(crate) spec: Spec,
    pub(crate) fallback: Fb,
}

/// How the attempts of a node ended. A failure is the error of the last attempt, or `None` if
/// it timed out (how many attempts it made and their timeout are the node's policy: it fails
/// for good only after its last one).
#[allow(unreachable_pub, missing_debug_implementations)] // the output of `Attempts`
pub enum Outcome<T, X> {
    /// An attempt produced the value.
    Value(T),
    /// The last attempt failed and there is no fallback.
    Failed(Option<X>),
    /// The last attempt failed and the fallback took its place.
    Recovered(T, Option<X>),
}

/// How many node events one poll of a node can leave for the run: an [`Attempts`] yields
/// (waking itself) before it would leave more.
pub(crate) const NEWS: usize = 4;

/// The events a node's policy produced during one poll, which the run passes on to its
/// observer right after that poll.
#[derive(Debug)]
pub(crate) struct News {
    events: [NodeEvent; NEWS],
    len: usize,
}

impl News {
    pub(crate) const fn new() -> Self {
        News {
            events: [NodeEvent::Pending; NEWS],
            len: 0,
        }
    }

    fn push(&mut self, event: NodeEvent) {
        // `Attempts` yields before this could overflow; if it ever did, the event is lost,
        // never the node's memory safety.
        if let Some(place) = self.events.get_mut(self.len) {
            *place = event;
            self.len += 1;
        }
    }

    /// Whether there are events to pass on.
    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Moves every event of `other` to the end of these.
    pub(crate) fn append(&mut self, other: &mut News) {
        for &event in &other.events[..other.len] {
            self.push(event);
        }
        other.len = 0;
    }

    /// The events, oldest first; none are left afterwards.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = NodeEvent> + '_ {
        let len = core::mem::take(&mut self.len);
        self.events[..len].iter().copied()
    }
}

pin_project! {
    /// The future of a node with a policy: one attempt of the node's function at a time,
    /// raced against the attempt's timeout, then a backoff sleep before the next.
    #[allow(unreachable_pub)] // inferred by `NodeTask`, never named
    pub struct Attempts<F: 'static, Fut, Sp, Tm: Timer, Fb: 'static> {
        policy: &'static WithPolicy<F, Tm, Fb>,
        make: Sp,
        attempt: u32,
        // Before the next attempt starts: the backoff sleep may be running.
        backing_off: bool,
        #[pin]
        work: Option<Fut>,
        #[pin]
        deadline: Option<Tm::Sleep>,
        #[pin]
        pause: Option<Tm::Sleep>,
        news: News,
    }
}

impl<F, Sp, Fut, Tm, Fb, T, X> Attempts<F, Fut, Sp, Tm, Fb>
where
    Sp: Fn() -> Fut,
    Fut: Future<Output = Result<T, X>>,
    Tm: Timer,
    Fb: Fallback<T>,
{
    /// The first attempt of `policy`'s function, made by `make`, which calls it on the
    /// node's inputs.
    pub(crate) fn new(policy: &'static WithPolicy<F, Tm, Fb>, make: Sp) -> Self {
        let work = make();
        Attempts {
            policy,
            make,
            attempt: 1,
            backing_off: false,
            work: Some(work),
            deadline: policy.spec.timeout.map(|after| policy.timer.sleep(after)),
            pause: None,
            news: News::new(),
        }
    }

    /// Moves the events of the attempts since the last call to `news`.
    pub(crate) fn take_news(self: Pin<&mut Self>, news: &mut News) {
        news.append(self.project().news);
    }
}

impl<F, Sp, Fut, Tm, Fb, T, X> Future for Attempts<F, Fut, Sp, Tm, Fb>
where
    Sp: Fn() -> Fut,
    Fut: Future<Output = Result<T, X>>,
    Tm: Timer,
    Fb: Fallback<T>,
{
    type Output = Outcome<T, X>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let spec = &this.policy.spec;
        loop {
            if *this.backing_off {
                if let Some(pause) = this.pause.as_mut().as_pin_mut() {
                    if pause.poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.pause.set(None);
                }
                *this.backing_off = false;
                *this.attempt = this.attempt.saturating_add(1);
                this.news.push(NodeEvent::Retrying {
                    attempt: *this.attempt,
                });
                this.work.set(Some((this.make)()));
                let timer = &this.policy.timer;
                this.deadline
                    .set(spec.timeout.map(|after| timer.sleep(after)));
            }
            let Some(work) = this.work.as_mut().as_pin_mut() else {
                unreachable!("dagfut: an attempt runs unless a backoff does")
            };
            let error = match work.poll(cx) {
                Poll::Ready(Ok(value)) => {
                    this.work.set(None);
                    this.deadline.set(None);
                    return Poll::Ready(Outcome::Value(value));
                }
                Poll::Ready(Err(error)) => Some(error),
                Poll::Pending => {
                    let expired = this
                        .deadline
                        .as_mut()
                        .as_pin_mut()
                        .is_some_and(|deadline| deadline.poll(cx).is_ready());
                    if !expired {
                        return Poll::Pending;
                    }
                    None
                }
            };
            // The attempt failed or ran out of time: it is dropped before anything else runs.
            this.work.set(None);
            this.deadline.set(None);
            let attempt = *this.attempt;
            this.news.push(match error {
                Some(_) => NodeEvent::AttemptFailed { attempt },
                None => NodeEvent::TimedOut { attempt },
            });
            if attempt > spec.retries {
                return Poll::Ready(match this.policy.fallback.value() {
                    Some(value) => Outcome::Recovered(value, error),
                    None => Outcome::Failed(error),
                });
            }
            drop(error);
            let delay = spec.backoff.delay(attempt);
            if !delay.is_zero() {
                this.pause.set(Some(this.policy.timer.sleep(delay)));
            }
            *this.backing_off = true;
            // The next turn may leave two more events (the retry, its failure): yield first if
            // they would not fit, so the run passes these on. The node's waker polls it again.
            if this.news.len + 2 > NEWS {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }
}

impl<F, Fut, Sp, Tm: Timer, Fb> fmt::Debug for Attempts<F, Fut, Sp, Tm, Fb> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempts")
            .field("attempt", &self.attempt)
            .field("backing_off", &self.backing_off)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_backoff_doubles_up_to_its_cap() {
        let ms = Duration::from_millis;
        let backoff = Backoff::exponential(ms(10)).max(ms(35));
        assert_eq!(backoff.delay(1), ms(10));
        assert_eq!(backoff.delay(2), ms(20));
        assert_eq!(backoff.delay(3), ms(35));
        assert_eq!(backoff.delay(u32::MAX), ms(35));
        // No cap: saturates instead of overflowing.
        let huge = Duration::from_secs(u64::MAX / 2);
        assert_eq!(Backoff::exponential(huge).delay(3), Duration::MAX);
        assert_eq!(Backoff::exponential(ms(1)).delay(11), ms(1024));
    }

    #[test]
    fn jitter_stays_between_half_and_the_whole_delay() {
        let ms = Duration::from_millis;
        fn middle() -> u32 {
            u32::MAX / 2
        }
        fn top() -> u32 {
            u32::MAX
        }
        let d = Backoff::fixed(ms(100)).jitter(middle).delay(1);
        assert!(d > ms(74) && d < ms(76), "{d:?}");
        assert_eq!(Backoff::fixed(ms(100)).jitter(top).delay(1), ms(100));
    }

    #[test]
    fn news_keeps_order_and_drains() {
        let mut news = News::new();
        let mut other = News::new();
        other.push(NodeEvent::TimedOut { attempt: 1 });
        other.push(NodeEvent::Retrying { attempt: 2 });
        news.append(&mut other);
        assert!(other.is_empty());
        let events: alloc::vec::Vec<_> = news.drain().collect();
        assert_eq!(
            events,
            [
                NodeEvent::TimedOut { attempt: 1 },
                NodeEvent::Retrying { attempt: 2 }
            ]
        );
        assert!(news.is_empty());
    }
}
