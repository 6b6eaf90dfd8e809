-- Ready chats: a claim reads one row per chat instead of every pending message.
--
-- 0003's claim found each chat's oldest pending message among all pending messages; with
-- a backlog (thousands of pending rows, busy chats holding many of them) its plan scanned
-- and sorted all of them to keep a batch of a few. Each claim row now carries head_id,
-- the id of its chat's oldest pending message (NULL when the chat has none), and a
-- partial index over the non-NULL ones is the queue of ready chats, in message order.
-- Never edit this file once applied anywhere: add a new numbered migration instead.
--
-- How head_id stays exact without making webhook acknowledgements wait for turns:
-- * A turn (or a dead-letter release) that finishes a chat's message takes the chat's
--   advisory lock exclusively, then, in a later statement (so with a newer snapshot),
--   sets head_id to the oldest pending message it sees.
-- * Storing messages takes the advisory locks of their chats shared, for the whole
--   transaction, and sets head_id where it is NULL or newer than the stored message.
-- So a store either commits before the finishing turn looks (the turn sees the message)
-- or looks at head_id after the turn committed (it sees the turn's value). Stores never
-- block each other on these locks, and a store waits for a turn only from the moment the
-- turn finishes until its commit, never for the game step. The claim row itself is
-- updated by a store only when head_id changes, which is when the chat is idle.

ALTER TABLE inbox_chats ADD COLUMN head_id bigint;

UPDATE inbox_chats q
SET head_id = (SELECT min(i.id) FROM inbox i
               WHERE i.platform = q.platform AND i.chat_id = q.chat_id
                 AND i.status = 'pending');

CREATE INDEX inbox_chats_ready ON inbox_chats (head_id) WHERE head_id IS NOT NULL;

-- The advisory lock key of a chat (collisions only make two chats share a lock).
CREATE FUNCTION fraser_chat_lock_key(p_platform text, p_chat_id text)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT hashtextextended(p_platform || chr(1) || p_chat_id, 7431) $$;

-- Stores inbound messages (arrays of equal length, one element per message; a chat's
-- messages get increasing ids in array order), skipping those already stored (same
-- platform and message id). Returns the platform and message id of each new row.
CREATE FUNCTION fraser_enqueue_messages(
    p_platform text[], p_chat_id text[], p_message_id text[], p_sender_id text[],
    p_sender_name text[], p_text text[], p_is_group boolean[], p_reply_context jsonb[],
    p_received_at_ms bigint[]
)
RETURNS TABLE (e_platform text, e_message_id text)
LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
AS $$
BEGIN
    -- Shared chat locks first, in key order (finishing turns take theirs in the same
    -- order), held to the end of the transaction.
    PERFORM pg_advisory_xact_lock_shared(k.key)
    FROM (SELECT DISTINCT fraser_chat_lock_key(m.platform, m.chat_id) AS key
          FROM unnest(p_platform, p_chat_id) AS m(platform, chat_id)
          ORDER BY 1) k;

    -- New messages, and a claim row for each new chat, both inserted in key order so
    -- that two overlapping batches wait for each other's keys in one order.
    RETURN QUERY
    WITH input AS (
        SELECT * FROM unnest(p_platform, p_chat_id, p_message_id, p_sender_id,
                             p_sender_name, p_text, p_is_group, p_reply_context,
                             p_received_at_ms)
            WITH ORDINALITY AS m(platform, chat_id, message_id, sender_id, sender_name,
                                 text, is_group, reply_context, received_at_ms, n)),
    numbered AS MATERIALIZED (
        SELECT nextval(pg_get_serial_sequence('inbox', 'id')) AS id, s.*
        FROM (SELECT * FROM input ORDER BY n) s),
    new_message AS (
        INSERT INTO inbox (id, platform, chat_id, message_id, sender_id, sender_name, text,
                           is_group, reply_context, received_at_ms)
        OVERRIDING SYSTEM VALUE
        SELECT id, platform, chat_id, message_id, sender_id, sender_name, text, is_group,
               reply_context, received_at_ms
        FROM numbered ORDER BY platform, message_id
        ON CONFLICT (platform, message_id) DO NOTHING
        RETURNING id, platform, chat_id, message_id),
    new_chat AS (
        INSERT INTO inbox_chats (platform, chat_id, head_id)
        SELECT platform, chat_id, min(id) FROM new_message
        GROUP BY platform, chat_id
        ORDER BY platform, chat_id
        ON CONFLICT DO NOTHING)
    SELECT platform, message_id FROM new_message;

    -- Existing chats (and a new chat whose claim row a concurrent batch inserted first):
    -- point head_id at the oldest stored message where it is NULL or newer. A fresh
    -- statement, so it sees rows committed meanwhile; rows are locked in key order.
    -- A chat with an older pending message (the usual case while it is busy) matches
    -- nothing here and is not locked at all.
    PERFORM 1
    FROM (
        SELECT q.platform, q.chat_id
        FROM (SELECT i.platform, i.chat_id, min(i.id) AS id
              FROM unnest(p_platform, p_message_id) AS m(platform, message_id)
              JOIN inbox i ON i.platform = m.platform AND i.message_id = m.message_id
              WHERE i.status = 'pending'
              GROUP BY i.platform, i.chat_id) h
        JOIN inbox_chats q ON q.platform = h.platform AND q.chat_id = h.chat_id
        WHERE q.head_id IS NULL OR q.head_id > h.id
        ORDER BY q.platform, q.chat_id
        FOR UPDATE OF q
    ) locked;

    UPDATE inbox_chats q SET head_id = h.id
    FROM (SELECT i.platform, i.chat_id, min(i.id) AS id
          FROM unnest(p_platform, p_message_id) AS m(platform, message_id)
          JOIN inbox i ON i.platform = m.platform AND i.message_id = m.message_id
          WHERE i.status = 'pending'
          GROUP BY i.platform, i.chat_id) h
    WHERE q.platform = h.platform AND q.chat_id = h.chat_id
      AND (q.head_id IS NULL OR q.head_id > h.id);
END $$;

-- Recomputes head_id for chats whose messages a turn or a release just finished (inside
-- that transaction, after the inbox update, holding the chats' claim rows): takes the
-- chats' advisory locks exclusively, in key order, which waits for stores of those
-- chats in flight; then, in a fresh statement, points head_id at the oldest pending
-- message, or NULL.
CREATE FUNCTION fraser_refresh_heads(p_platform text[], p_chat_id text[])
RETURNS void
LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(k.key)
    FROM (SELECT DISTINCT fraser_chat_lock_key(m.platform, m.chat_id) AS key
          FROM unnest(p_platform, p_chat_id) AS m(platform, chat_id)
          ORDER BY 1) k;

    UPDATE inbox_chats q
    SET head_id = (SELECT min(i.id) FROM inbox i
                   WHERE i.platform = q.platform AND i.chat_id = q.chat_id
                     AND i.status = 'pending')
    FROM (SELECT DISTINCT platform, chat_id
          FROM unnest(p_platform, p_chat_id) AS m(platform, chat_id)) c
    WHERE q.platform = c.platform AND q.chat_id = c.chat_id;
END $$;

-- Claims up to p_limit ready chats (head_id set, no unexpired lease), oldest head
-- first, each with its oldest pending message. The claim rows are locked with SKIP
-- LOCKED, so the claim never waits (and so is never part of a deadlock) and concurrent
-- claimers pass over each other's chats; locking re-checks the row's newest version, so
-- a chat leased or emptied since the statement's snapshot is skipped. The plan walks
-- the ready index in order and stops after the batch (a bitmap scan and sort of every
-- ready chat, which a plan cached while the tables were small may pick, is ruled out;
-- and so is JIT, whose compile time a statement this small never earns back).
CREATE OR REPLACE FUNCTION fraser_claim_turns(
    p_worker text, p_now_ms bigint, p_lease_ms bigint, p_limit integer
)
RETURNS TABLE (
    c_inbox_id bigint, c_token bigint, c_attempts integer, c_platform text, c_chat_id text,
    c_message_id text, c_sender_id text, c_sender_name text, c_text text,
    c_is_group boolean, c_reply_context jsonb, c_received_at_ms bigint
)
LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
SET enable_bitmapscan = off SET jit = off
AS $$
BEGIN
    -- As in fraser_claim_turn: a lost claim is simply claimed again.
    PERFORM set_config('synchronous_commit', 'off', true);

    RETURN QUERY
    WITH heads AS (
        SELECT q.platform, q.chat_id, q.head_id AS id
        FROM inbox_chats q
        WHERE q.head_id IS NOT NULL AND q.lease_until_ms <= p_now_ms
        ORDER BY q.head_id
        LIMIT p_limit
        FOR UPDATE OF q SKIP LOCKED
    ),
    leased AS (
        UPDATE inbox_chats q
        SET lease_token = q.lease_token + 1, lease_owner = p_worker,
            lease_until_ms = p_now_ms + p_lease_ms
        FROM heads h
        WHERE q.platform = h.platform AND q.chat_id = h.chat_id
        RETURNING q.platform, q.chat_id, q.lease_token
    ),
    claimed AS (
        UPDATE inbox i SET attempts = i.attempts + 1
        FROM heads h
        JOIN leased l ON l.platform = h.platform AND l.chat_id = h.chat_id
        WHERE i.id = h.id AND i.status = 'pending'
        RETURNING i.id, l.lease_token, i.attempts, i.platform, i.chat_id, i.message_id,
                  i.sender_id, i.sender_name, i.text, i.is_group, i.reply_context,
                  i.received_at_ms
    )
    SELECT * FROM claimed ORDER BY 1;
END $$;

-- The single claim is a batch of one.
CREATE OR REPLACE FUNCTION fraser_claim_turn(p_worker text, p_now_ms bigint, p_lease_ms bigint)
RETURNS TABLE (
    c_inbox_id bigint, c_token bigint, c_attempts integer, c_platform text, c_chat_id text,
    c_message_id text, c_sender_id text, c_sender_name text, c_text text,
    c_is_group boolean, c_reply_context jsonb, c_received_at_ms bigint
)
LANGUAGE sql
AS $$ SELECT * FROM fraser_claim_turns(p_worker, p_now_ms, p_lease_ms, 1) $$;

-- 0002's fraser_save_turns and 0001's fraser_save_turn, unchanged but for the head_id
-- refresh at the end.
CREATE OR REPLACE FUNCTION fraser_save_turns(p_turns jsonb, p_now_ms bigint)
RETURNS TABLE (t_index integer, t_version bigint)
LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
AS $$
DECLARE
    v_saved integer;
BEGIN
    RETURN QUERY
    -- A JSON null in a jsonb field comes out as SQL NULL: store it as JSON null.
    UPDATE chats c SET state = coalesce(t.state, 'null'), version = c.version + 1
    FROM jsonb_to_recordset(p_turns)
         AS t(platform text, chat_id text, version bigint, state jsonb, n bigint)
    WHERE c.platform = t.platform AND c.chat_id = t.chat_id AND c.version = t.version
    RETURNING t.n::integer, c.version;
    GET DIAGNOSTICS v_saved = ROW_COUNT;
    IF v_saved <> jsonb_array_length(p_turns) THEN
        RAISE EXCEPTION 'a chat of the batch is not at its expected version'
            USING ERRCODE = 'serialization_failure';
    END IF;

    INSERT INTO outbox (platform, chat_id, inbox_id, is_group, reply_context, reply,
                        next_attempt_ms)
    SELECT t.platform, t.chat_id, t.inbox_id, t.is_group, coalesce(t.reply_context, 'null'),
           r.value, p_now_ms
    FROM jsonb_to_recordset(p_turns)
         AS t(platform text, chat_id text, inbox_id bigint, is_group boolean,
              reply_context jsonb, replies jsonb, n bigint)
    CROSS JOIN LATERAL jsonb_array_elements(t.replies) WITH ORDINALITY AS r(value, k)
    ORDER BY t.n, r.k;

    INSERT INTO players AS p (platform, chat_id, player_id, name, score)
    SELECT t.platform, t.chat_id, d.player_id, d.player_id, d.delta
    FROM jsonb_to_recordset(p_turns)
         AS t(platform text, chat_id text, deltas jsonb, n bigint)
    CROSS JOIN LATERAL (
        SELECT e->>'player_id' AS player_id, sum((e->>'delta')::bigint) AS delta
        FROM jsonb_array_elements(t.deltas) AS e
        GROUP BY e->>'player_id'
    ) d
    ORDER BY t.n, d.player_id
    ON CONFLICT (platform, chat_id, player_id) DO UPDATE SET score = p.score + EXCLUDED.score;

    UPDATE inbox i SET status = 'done', finished_at_ms = p_now_ms, last_error = NULL
    FROM jsonb_to_recordset(p_turns) AS t(inbox_id bigint)
    WHERE i.id = t.inbox_id;

    UPDATE inbox_chats q SET lease_owner = NULL, lease_until_ms = 0, last_error = NULL
    FROM jsonb_to_recordset(p_turns) AS t(platform text, chat_id text)
    WHERE q.platform = t.platform AND q.chat_id = t.chat_id;

    PERFORM fraser_refresh_heads(array_agg(t.platform), array_agg(t.chat_id))
    FROM jsonb_to_recordset(p_turns) AS t(platform text, chat_id text);
END $$;

CREATE OR REPLACE FUNCTION fraser_save_turn(
    p_platform text, p_chat_id text, p_inbox_id bigint, p_version bigint, p_state jsonb,
    p_replies jsonb, p_deltas jsonb, p_is_group boolean, p_reply_context jsonb,
    p_now_ms bigint
)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_version bigint;
    v_reply   jsonb;
BEGIN
    UPDATE chats c SET state = p_state, version = c.version + 1
    WHERE c.platform = p_platform AND c.chat_id = p_chat_id AND c.version = p_version
    RETURNING c.version INTO v_version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'chat %/% is not at version %', p_platform, p_chat_id, p_version
            USING ERRCODE = 'serialization_failure';
    END IF;

    -- One insert per reply, in order, so ids follow the reply order.
    FOR v_reply IN
        SELECT r.value FROM jsonb_array_elements(p_replies) WITH ORDINALITY AS r
        ORDER BY r.ordinality
    LOOP
        INSERT INTO outbox (platform, chat_id, inbox_id, is_group, reply_context, reply,
                            next_attempt_ms)
        VALUES (p_platform, p_chat_id, p_inbox_id, p_is_group, p_reply_context, v_reply,
                p_now_ms);
    END LOOP;

    INSERT INTO players AS p (platform, chat_id, player_id, name, score)
    SELECT p_platform, p_chat_id, d.player_id, d.player_id, d.delta
    FROM (
        SELECT e->>'player_id' AS player_id, sum((e->>'delta')::bigint) AS delta
        FROM jsonb_array_elements(p_deltas) AS e
        GROUP BY e->>'player_id'
    ) d
    ON CONFLICT (platform, chat_id, player_id) DO UPDATE SET score = p.score + EXCLUDED.score;

    UPDATE inbox i SET status = 'done', finished_at_ms = p_now_ms, last_error = NULL
    WHERE i.id = p_inbox_id;

    UPDATE inbox_chats q SET lease_owner = NULL, lease_until_ms = 0, last_error = NULL
    WHERE q.platform = p_platform AND q.chat_id = p_chat_id;

    PERFORM fraser_refresh_heads(ARRAY[p_platform], ARRAY[p_chat_id]);

    RETURN v_version;
END $$;
