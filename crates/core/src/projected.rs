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

    /// Whether `event` is one of these, as [`selects`](Self::selects) would say: asked of every
    /// event an [`Either`] decodes, so a set answers it without building its filter.
    fn takes(event: &RecordedEvent) -> bool {
        Self::selects().accepts(event)
    }

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

    fn takes(event: &RecordedEvent) -> bool {
        E::CATEGORY.is_none_or(|category| event.stream_id.category() == category)
            && E::TYPES.iter().any(|t| t.name == event.event_type.as_str())
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

    fn takes(event: &RecordedEvent) -> bool {
        A::takes(event) || B::takes(event)
    }

    fn from_recorded(event: &RecordedEvent) -> Result<Self, DecodeError> {
        if A::takes(event) {
            A::from_recorded(event).map(Either::First)
        } else {
            B::from_recorded(event).map(Either::Second)
        }
    }
}
