-- Storing messages keeps one generic plan per statement.
--
-- PL/pgSQL caches a plan per statement, but a statement that uses the function's
-- arguments is planned again on every call as long as the plan cache judges a plan
-- made for the call's values cheaper than the generic one, and with array arguments
-- (one element per message) it always does. fraser_enqueue_messages runs once per
-- inbox commit, mostly with one or two messages, so planning was most of its cost:
-- pgbench calling it with one message, one client, synchronous_commit off, took
-- 0.43 ms per call, and 0.17 ms with generic plans. Its statements look rows up by
-- key through indexes (the function already turns off the plan types that would
-- not), so the generic plan is the plan every call wants.
-- The turn functions (claim, begin, save, release, settle) keep the default: they run
-- with batches of up to turn_batch chats, where measured end to end their generic
-- plans were slower than planning each call.
-- Never edit this file once applied anywhere: add a new numbered migration instead.

ALTER FUNCTION fraser_enqueue_messages(text[], text[], text[], text[], text[], text[],
                                       boolean[], jsonb[], bigint[])
    SET plan_cache_mode = force_generic_plan;
