//! End-to-end tests of the orders, customers and product catalogue services and the issue
//! tracker: the real `projector` binary on a free port with a fresh data directory, and a real
//! HTTP client.

mod helpers;

mod admin;
mod auth;
mod bench;
mod broker;
mod browser;
mod cache;
mod commands;
mod connections;
mod consistency;
mod contract;
mod customers;
mod dashboard;
mod dashboard_auth;
mod dead_letter_commands;
mod dead_letters;
mod edges;
mod failover;
mod idempotency;
mod inline;
mod issues;
mod lifecycle;
mod limits;
mod metrics;
mod migrations;
mod openapi;
mod operations;
mod outage;
mod partitions;
mod pause;
mod product_search;
mod products;
mod progress;
mod reads;
mod rebuilt;
mod regions;
mod restart;
mod retries;
mod search;
mod shedding;
mod storage;
mod validation;
mod walkthrough;

/// Stamps out every test of the suite four times: on the embedded default and on PostgreSQL (a
/// fresh database per test; skipped with a reason when PostgreSQL is away, outside CI), each
/// without and with the "my orders" cache in Redis (a namespace per test).
macro_rules! on_both_backends {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::helpers::Backend::Sqlite.run(crate::$module::$test()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::helpers::Backend::Postgres.run(crate::$module::$test()).await;
                }
            )*
        }
        mod sqlite_with_cache {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::helpers::Backend::Sqlite.run_with_cache(crate::$module::$test()).await;
                }
            )*
        }
        mod postgres_with_cache {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::helpers::Backend::Postgres.run_with_cache(crate::$module::$test()).await;
                }
            )*
        }
    };
}

on_both_backends!(
    shedding::writes_past_the_queue_bound_are_turned_away_at_once_and_record_nothing,
    shedding::slow_writes_shrink_the_queue_and_quick_ones_grow_it_back,
    admin::projections_are_listed_and_rebuilt_without_downtime,
    admin::a_rebuild_cut_short_by_a_crash_is_finished_after_a_restart,
    admin::bad_names_unknown_projections_and_nothing_to_resume,
    commands::status_and_rebuild_from_the_command_line,
    consistency::if_match_guards_writes_with_the_stream_version,
    consistency::two_writers_with_the_same_version_one_wins,
    consistency::reads_wait_for_their_writes,
    dead_letters::bad_positions_and_unknown_letters_are_refused,
    dead_letters::a_stopped_projections_letter_is_shown_retried_and_skipped_over_http,
    dead_letter_commands::dead_letters_from_the_command_line,
    customers::a_customer_is_registered_changed_and_read_back,
    dashboard::the_live_feed_sends_the_projections_and_their_last_hour,
    customers::bad_customer_writes_are_refused_naming_the_field_and_change_nothing,
    customers::retries_are_answered_once_and_if_match_guards_changes,
    customers::reviews_need_a_live_product_and_a_registered_customer,
    customers::orders_before_registration_count_once_the_customer_registers,
    idempotency::a_retry_gets_the_first_answer_and_appends_nothing,
    idempotency::a_refusal_is_remembered_too,
    idempotency::concurrent_retries_append_once,
    retries::a_retry_after_a_lost_answer_gets_the_first_outcome,
    retries::a_stop_lets_a_write_whose_client_went_away_finish,
    retries::a_retry_after_a_crash_between_append_and_answer_gets_the_first_outcome,
    retries::a_key_used_again_after_a_day_is_a_new_request,
    issues::every_write_names_its_user,
    issues::the_history_shows_each_users_changes_in_order,
    issues::concurrent_edits_with_the_same_version_one_wins,
    issues::concurrent_edits_of_different_fields_without_if_match_both_succeed,
    issues::forbidden_transitions_and_no_ops_append_nothing,
    issues::bad_input_is_named_and_lists_filter,
    lifecycle::an_order_runs_its_whole_life,
    lifecycle::a_cancelled_order_can_do_nothing_more,
    lifecycle::forbidden_transitions_are_conflicts,
    lifecycle::unknown_orders_and_items_are_not_found,
    limits::orders_past_their_limits_are_refused_naming_the_limit,
    limits::orders_at_their_limits_are_projected_and_reported_exactly,
    limits::each_limit_accepts_its_maximum_and_refuses_one_past_it,
    openapi::the_document_covers_every_route_and_states_the_limits,
    operations::health_ready_and_metrics,
    product_search::products_are_found_filtered_sorted_and_counted,
    product_search::bad_product_search_parameters_are_named,
    product_search::every_search_is_answered_while_the_index_is_rebuilt,
    products::a_product_is_created_changed_repriced_and_deleted,
    products::bad_product_input_is_named_and_changes_nothing,
    products::product_writes_are_idempotent_and_guarded_by_if_match,
    products::product_reads_wait_for_their_writes_and_404_when_missing,
    products::the_products_read_model_is_rebuilt_from_the_command_line,
    inline::the_mode_says_whether_the_appends_apply_the_read_model,
    operations::correlation_ids_are_taken_or_made_and_returned,
    pause::a_pause_holds_across_a_restart_until_resumed,
    pause::pause_and_resume_from_the_command_line,
    pause::a_rebuild_from_a_position_holds_only_the_events_from_there,
    pause::a_rebuild_from_the_command_line_starts_where_asked,
    reads::my_orders_are_newest_first_a_page_at_a_time,
    reads::activity_and_daily_sales_follow_completions_and_refunds,
    reads::every_read_names_the_read_model_that_answered,
    reads::amounts_read_back_as_the_decimals_written,
    regions::an_orders_customer_region_follows_registration_and_moves,
    restart::a_restart_keeps_every_order,
    restart::sigterm_under_load_loses_no_acknowledged_write,
    search::orders_are_found_by_words_and_filtered,
    search::a_search_waits_for_the_write_it_names,
    search::bad_search_parameters_are_named,
    search::a_second_server_on_the_same_data_directory_is_refused,
    walkthrough::an_order_is_accepted_projected_and_read_back_confirmed,
    validation::bad_bodies_are_refused_naming_every_field,
    validation::malformed_empty_untyped_and_oversized_bodies,
    validation::bad_paths_queries_and_headers,
);

/// The dashboard in headless Chromium; the load's writers and the browser need threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_projections_and_rebuilds_one() {
    crate::browser::the_dashboard_shows_the_projections_and_rebuilds_one().await;
}

/// Leases, and so their holders, are PostgreSQL's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_dashboard_standby_names_the_holder_of_each_lease() {
    crate::dashboard::a_standby_names_the_holder_of_each_lease().await;
}

/// The dashboard's page and flags do not depend on the storage.
#[tokio::test]
async fn the_dashboard_page_and_its_files_come_from_this_server_only() {
    crate::dashboard::the_page_and_its_files_come_from_this_server_only().await;
}

#[tokio::test]
async fn a_dashboard_lag_alert_that_is_not_a_number_of_seconds_is_refused() {
    crate::dashboard::a_lag_alert_that_is_not_a_number_of_seconds_is_refused().await;
}

/// Two servers sharing one cache need PostgreSQL and Redis, whatever the suite's backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_standby_answers_from_the_cache_the_holder_keeps() {
    crate::helpers::Backend::Postgres
        .run(crate::cache::a_standby_answers_from_the_cache_the_holder_keeps())
        .await;
}

/// The HTTP reads' own pool and statement timeout are PostgreSQL's; SQLite never makes a reader
/// wait for a lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_history_read_past_the_statement_timeout_is_cancelled() {
    crate::helpers::Backend::Postgres
        .run(crate::limits::a_history_read_past_the_statement_timeout_is_cancelled())
        .await;
}

/// A projection held still takes a lock only PostgreSQL lets a test hold without failing the
/// projector's batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_position_not_reached_in_time_is_a_503_naming_the_position_reached() {
    crate::helpers::Backend::Postgres
        .run(
            crate::consistency::a_position_not_reached_in_time_is_a_503_naming_the_position_reached(
            ),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_server_sets_how_long_a_read_waits_by_default() {
    crate::helpers::Backend::Postgres
        .run(crate::consistency::the_server_sets_how_long_a_read_waits_by_default())
        .await;
}

/// A standby beside a holder needs two servers on one PostgreSQL database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_on_a_standby_wait_for_the_holders_checkpoint() {
    crate::consistency::reads_on_a_standby_wait_for_the_holders_checkpoint().await;
}

/// A projection held still takes a lock only PostgreSQL lets a test hold without failing the
/// projector's batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_waiting_read_is_answered_at_once_on_sigterm() {
    crate::helpers::Backend::Postgres
        .run(crate::edges::a_waiting_read_is_answered_at_once_on_sigterm())
        .await;
}

/// The cache's own tests set up Redis themselves (a proxy to cut it off, a database to flush),
/// so they run on both backends without the suite's cache.
mod cache_faults {
    use crate::helpers::Backend;

    // The proxy runs on the test's runtime while the server starts: it needs a thread of its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_my_orders_fall_back_to_sql_while_redis_is_cut_off_and_come_back() {
        Backend::Sqlite
            .run(crate::cache::my_orders_fall_back_to_sql_while_redis_is_cut_off_and_come_back())
            .await;
    }

    // The proxy runs on the test's runtime while the server starts: it needs a thread of its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_my_orders_fall_back_to_sql_while_redis_is_cut_off_and_come_back() {
        Backend::Postgres
            .run(crate::cache::my_orders_fall_back_to_sql_while_redis_is_cut_off_and_come_back())
            .await;
    }

    // The proxy runs on the test's runtime while the server starts: it needs a thread of its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_flushing_redis_under_writes_never_gives_a_wrong_answer() {
        Backend::Sqlite
            .run(crate::cache::flushing_redis_under_writes_never_gives_a_wrong_answer())
            .await;
    }

    // The proxy runs on the test's runtime while the server starts: it needs a thread of its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_flushing_redis_under_writes_never_gives_a_wrong_answer() {
        Backend::Postgres
            .run(crate::cache::flushing_redis_under_writes_never_gives_a_wrong_answer())
            .await;
    }
}

/// The inline read model on the embedded backend, where the append path applies it.
mod inline_sqlite {
    #[tokio::test]
    async fn a_read_right_after_each_write_sees_it() {
        crate::helpers::Backend::Sqlite
            .run(crate::inline::a_read_right_after_each_write_sees_it())
            .await;
    }

    #[tokio::test]
    async fn a_write_the_read_model_cannot_take_is_refused_and_appends_nothing() {
        crate::helpers::Backend::Sqlite
            .run(crate::inline::a_write_the_read_model_cannot_take_is_refused_and_appends_nothing())
            .await;
    }

    #[tokio::test]
    async fn a_rebuild_under_writes_keeps_reads_consistent_and_matches_a_fresh_one() {
        crate::helpers::Backend::Sqlite
            .run(crate::inline::a_rebuild_under_writes_keeps_reads_consistent_and_matches_a_fresh_one())
            .await;
    }

    #[tokio::test]
    async fn killed_mid_write_the_inline_read_model_equals_a_rebuild() {
        crate::helpers::Backend::Sqlite
            .run(crate::inline::killed_mid_write_the_inline_read_model_equals_a_rebuild())
            .await;
    }
}

/// The inline read model on PostgreSQL, where the append's own transaction applies it.
mod inline_postgres {
    #[tokio::test]
    async fn a_read_right_after_each_write_sees_it() {
        crate::helpers::Backend::Postgres
            .run(crate::inline::a_read_right_after_each_write_sees_it())
            .await;
    }

    #[tokio::test]
    async fn a_write_the_read_model_cannot_take_is_refused_and_appends_nothing() {
        crate::helpers::Backend::Postgres
            .run(crate::inline::a_write_the_read_model_cannot_take_is_refused_and_appends_nothing())
            .await;
    }

    #[tokio::test]
    async fn a_rebuild_under_writes_keeps_reads_consistent_and_matches_a_fresh_one() {
        crate::helpers::Backend::Postgres
            .run(crate::inline::a_rebuild_under_writes_keeps_reads_consistent_and_matches_a_fresh_one())
            .await;
    }

    #[tokio::test]
    async fn killed_mid_write_the_inline_read_model_equals_a_rebuild() {
        crate::helpers::Backend::Postgres
            .run(crate::inline::killed_mid_write_the_inline_read_model_equals_a_rebuild())
            .await;
    }
}

/// `order_summary` as partitions: reads, the admin listing and a new count on the embedded
/// backend; SIGKILL of `project` mid-batch on SQLite; two servers sharing the partitions on
/// PostgreSQL.
mod partitions_e2e {
    #[tokio::test]
    async fn sqlite_reads_wait_for_every_partition_and_the_admin_api_lists_each() {
        crate::helpers::Backend::Sqlite
            .run(crate::partitions::reads_wait_for_every_partition_and_the_admin_api_lists_each())
            .await;
    }

    #[tokio::test]
    async fn sqlite_a_position_a_partition_has_not_reached_is_a_503_naming_the_slowest() {
        crate::helpers::Backend::Sqlite
            .run(crate::partitions::a_position_a_partition_has_not_reached_is_a_503_naming_the_slowest())
            .await;
    }

    #[tokio::test]
    async fn sqlite_a_new_number_of_partitions_rebuilds_beside_and_the_reads_agree() {
        crate::helpers::Backend::Sqlite
            .run(
                crate::partitions::a_new_number_of_partitions_rebuilds_beside_and_the_reads_agree(),
            )
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_killed_mid_batch_the_partitions_still_equal_a_rebuild() {
        crate::helpers::Backend::Sqlite
            .run(crate::partitions::killed_mid_batch_the_partitions_still_equal_a_rebuild())
            .await;
    }

    #[tokio::test]
    async fn sqlite_a_partitioned_projection_is_rebuilt_by_its_name() {
        crate::helpers::Backend::Sqlite
            .run(crate::partitions::a_partitioned_projection_is_rebuilt_by_its_name())
            .await;
    }

    #[tokio::test]
    async fn sqlite_a_partitioned_projection_pauses_and_resumes_by_its_name() {
        crate::helpers::Backend::Sqlite
            .run(crate::partitions::a_partitioned_projection_pauses_and_resumes_by_its_name())
            .await;
    }

    #[tokio::test]
    async fn sqlite_dead_letters_named_by_the_projection_reach_their_partition() {
        crate::helpers::Backend::Sqlite
            .run(crate::partitions::dead_letters_named_by_the_projection_reach_their_partition())
            .await;
    }

    #[tokio::test]
    async fn sqlite_a_dead_letter_of_an_event_every_partition_applies_reaches_them_all() {
        crate::helpers::Backend::Sqlite
            .run(crate::partitions::a_dead_letter_of_an_event_every_partition_applies_reaches_them_all())
            .await;
    }

    #[tokio::test]
    async fn postgres_a_dead_letter_of_an_event_every_partition_applies_reaches_them_all() {
        crate::helpers::Backend::Postgres
            .run(crate::partitions::a_dead_letter_of_an_event_every_partition_applies_reaches_them_all())
            .await;
    }

    /// Two servers on one database, and a load while one is killed, need threads.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_two_servers_share_the_partitions_and_one_takes_over_from_the_other() {
        crate::partitions::two_servers_share_the_partitions_and_one_takes_over_from_the_other()
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_a_later_server_gets_its_share_of_the_partitions_and_a_survivor_takes_them_all()
     {
        crate::partitions::a_later_server_gets_its_share_of_the_partitions_and_a_survivor_takes_them_all()
            .await;
    }
}
