//! The read models of the built-in services, each bound to the store that keeps it: the
//! targets every command registers with the projector, whatever their kind.

use std::sync::Arc;

use anyhow::Context;
use projector_core::{ProjectionName, ProjectionTarget};
use projector_orders::projections::{
    CUSTOMER_ORDERS_CACHE, CustomerOrdersCacheProjection, ORDER_SEARCH, OrderSearchProjection,
};
use projector_products::projections::{PRODUCT_SEARCH, ProductSearchProjection};
use projector_redis::{RedisStore, RedisTarget};
use projector_search::{SearchStore, SearchTarget};
use projector_sql::{SqlProjection, SqlReadStore, SqlTarget};

use crate::stores::{SearchAccess, Stores};

/// The read models of the built-in services over `stores`, or the named subset of them.
///
/// # Errors
/// A name that is not a projection name, or names no read model of the built-in services.
pub(crate) fn targets(
    stores: &Stores,
    names: &[String],
) -> anyhow::Result<Vec<Arc<dyn ProjectionTarget>>> {
    select(
        over_with(
            Arc::clone(&stores.reads),
            stores.applies_inline(),
            stores.cache.as_ref(),
            stores.search.as_ref(),
        ),
        names,
    )
}

/// `targets`, with those named in `partitions` run as that many partitions each (SQL read
/// models whose projection can be partitioned).
///
/// # Errors
/// A name that is not a read model here, or one that cannot run as partitions.
pub(crate) fn partitioned(
    stores: &Stores,
    targets: Vec<Arc<dyn ProjectionTarget>>,
    partitions: &[(String, u16)],
) -> anyhow::Result<Vec<Arc<dyn ProjectionTarget>>> {
    let mut counts = Vec::new();
    for (name, count) in partitions {
        let name = known(name)?;
        if !targets.iter().any(|t| t.name() == name) {
            anyhow::bail!("--partitions {name}: the projection does not run here");
        }
        counts.push((name, *count));
    }
    let mut out = Vec::new();
    for target in targets {
        let name = target.name();
        match counts.iter().find(|(n, _)| *n == name) {
            Some((_, count)) if *count > 1 => {
                let projection = sql_projections()
                    .into_iter()
                    .find(|p| p.name() == name)
                    .with_context(|| {
                        format!("--partitions {name}: only SQL read models run as partitions")
                    })?;
                for part in SqlTarget::partitioned(Arc::clone(&stores.reads), projection, *count)
                    .with_context(|| format!("--partitions {name}={count}"))?
                {
                    out.push(Arc::new(part) as Arc<dyn ProjectionTarget>);
                }
            }
            _ => out.push(target),
        }
    }
    Ok(out)
}

/// How many partitions to run `name` as in a command that acts on its serving read model: as
/// `asked` (`--partitions`) says, else as many as built it (1 for one built whole, and for any
/// but a partitionable SQL read model), so the command never starts a rebuild by accident.
///
/// # Errors
/// The read store failing.
pub(crate) async fn partition_count(
    stores: &Stores,
    name: &ProjectionName,
    asked: &[(String, u16)],
) -> anyhow::Result<u16> {
    if let Some((_, count)) = asked.iter().find(|(n, _)| n == name.as_str()) {
        return Ok(*count);
    }
    let partitionable = sql_projections()
        .iter()
        .any(|p| p.name() == *name && p.partitionable());
    if !partitionable {
        return Ok(1);
    }
    let Some(serving) = stores
        .reads
        .serving(name)
        .await
        .with_context(|| format!("reading the serving read model of {name}"))?
    else {
        return Ok(1);
    };
    stores
        .reads
        .partitions(name, serving.generation)
        .await
        .with_context(|| format!("reading how many partitions built {name}"))
}

/// The SQL projections of the built-in services.
pub fn sql_projections() -> Vec<Arc<dyn SqlProjection>> {
    projector_orders::projections::all()
        .into_iter()
        .chain(projector_issues::projections::all())
        .chain(projector_products::projections::all())
        .collect()
}

/// Every read model of the built-in services: their SQL tables in `sql`, with a `cache` the
/// "my orders" cache in it, and with `search` the order and product search indexes in it.
pub fn over(
    sql: Arc<dyn SqlReadStore>,
    cache: Option<&RedisStore>,
    search: Option<&SearchStore>,
) -> Vec<Arc<dyn ProjectionTarget>> {
    over_with(sql, true, cache, search)
}

/// [`over`], the inline projections reported as such only when `inline` (the event store
/// applies them with its appends).
fn over_with(
    sql: Arc<dyn SqlReadStore>,
    inline: bool,
    cache: Option<&RedisStore>,
    search: Option<&SearchStore>,
) -> Vec<Arc<dyn ProjectionTarget>> {
    let mut all: Vec<Arc<dyn ProjectionTarget>> = sql_projections()
        .into_iter()
        .map(|projection| {
            let target = SqlTarget::new(Arc::clone(&sql), projection);
            let target = if inline { target } else { target.not_inline() };
            Arc::new(target) as Arc<dyn ProjectionTarget>
        })
        .collect();
    if let Some(cache) = cache {
        all.push(customer_orders_cache(cache));
    }
    if let Some(search) = search {
        all.push(Arc::new(SearchTarget::typed(
            search.clone(),
            OrderSearchProjection,
        )));
        all.push(Arc::new(SearchTarget::typed(
            search.clone(),
            ProductSearchProjection,
        )));
    }
    all
}

/// How a command running the read models `names` (all when empty) uses the search indexes:
/// it owns them if it runs one of them.
pub(crate) fn search_access(names: &[String]) -> SearchAccess {
    let searched = names.is_empty()
        || names.iter().any(|name| {
            [ORDER_SEARCH, PRODUCT_SEARCH]
                .iter()
                .any(|s| name == s.as_str())
        });
    match searched {
        true => SearchAccess::Own,
        false => SearchAccess::Closed,
    }
}

/// The "my orders" cache in `cache`.
pub(crate) fn customer_orders_cache(cache: &RedisStore) -> Arc<RedisTarget> {
    Arc::new(RedisTarget::typed(
        cache.clone(),
        CustomerOrdersCacheProjection,
    ))
}

/// The names of every read model of the built-in services.
pub(crate) fn names() -> Vec<ProjectionName> {
    projector_orders::projections::all()
        .iter()
        .chain(projector_issues::projections::all().iter())
        .chain(projector_products::projections::all().iter())
        .map(|p| p.name())
        .chain([CUSTOMER_ORDERS_CACHE, ORDER_SEARCH, PRODUCT_SEARCH])
        .collect()
}

/// `name` as the name of a read model of the built-in services.
///
/// # Errors
/// Not a projection name, or not one of theirs (the error lists them).
pub(crate) fn known(name: &str) -> anyhow::Result<ProjectionName> {
    let parsed = ProjectionName::parse(name).with_context(|| format!("projection {name:?}"))?;
    let all = names();
    if all.contains(&parsed) {
        return Ok(parsed);
    }
    let known: Vec<String> = all.iter().map(ToString::to_string).collect();
    anyhow::bail!("no projection named {parsed}; known: {}", known.join(", "))
}

/// `all`, or the ones `names` names, in that order.
fn select(
    all: Vec<Arc<dyn ProjectionTarget>>,
    names: &[String],
) -> anyhow::Result<Vec<Arc<dyn ProjectionTarget>>> {
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|name| {
            let name = known(name)?;
            all.iter()
                .find(|t| t.name() == name)
                .cloned()
                .with_context(|| match name == CUSTOMER_ORDERS_CACHE {
                    true => format!("{name} is kept only with a cache configured (--redis-url)"),
                    false => format!("projection {name} has no read model here"),
                })
        })
        .collect()
}
