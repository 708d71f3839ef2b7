//! What a typed projection reads: the events of one domain, or of two at once.
//!
//! Most read models follow one domain, and read its [`EventSet`]. A read model that joins two
//! (a customer's activity from customer and order events) reads [`Either`] of them: each event
//! is decoded by the set whose filter takes it.

use crate::codec::DomainEvent;
use crate::event::{DecodeError, RecordedEvent};
use crate::event_set::EventSet;
use crate::projection::EventFilter;

/// The events a typed projection is given and decodes.
pub trait ProjectedEvents: Sized + Send + Sync {
    /// Which events of the feed these are.
    fn selects() -> EventFilter;

    /// Reads one of them back.
    ///
    /// # Errors
    /// A [`DecodeError`] for an event of another type or a payload of the wrong shape.
    fn from_recorded(event: &RecordedEvent) -> Result<Self, DecodeError>;
}

impl<E: EventSet> ProjectedEvents for E {
    fn selects() -> EventFilter {
        E::filter()
    }

    fn from_recorded(event: &RecordedEvent) -> Result<Self, DecodeError> {
        <E as DomainEvent>::decode(event)
    }
}

/// An event of one of two sets, for a projection that reads two domains.
#[derive(Clone, Debug, PartialEq)]
pub enum Either<A, B> {
    /// An event of the first set.
    First(A),
    /// An event of the second set.
    Second(B),
}

impl<A: ProjectedEvents, B: ProjectedEvents> ProjectedEvents for Either<A, B> {
    fn selects() -> EventFilter {
        EventFilter::AnyOf(vec![A::selects(), B::selects()])
    }

    fn from_recorded(event: &RecordedEvent) -> Result<Self, DecodeError> {
        if A::selects().accepts(event) {
            A::from_recorded(event).map(Either::First)
        } else {
            B::from_recorded(event).map(Either::Second)
        }
    }
}
