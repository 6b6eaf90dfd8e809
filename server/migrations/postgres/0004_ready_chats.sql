-- Ready chats: a claim reads one row per chat instead of every pending message.
--
-- 0003's claim found each chat's oldest pending message among all pending messages; with
-- a backlog (thousands of pending rows, busy chats holding many of them) its plan scanned
-- and sorted all of them to keep a batch of a few. Each claim row now carries head_id,
-- the id of its chat's oldest pending message (NULL when the chat has none), and a
-- partial index over the non-NULL ones is the queue of ready chats, in message order.
-- Never edit this file once applied anywhere: add a new numbered migration instead.
--
-- How every chat with a pending message keeps a head, without making webhook
-- acknowledgements wait for turns, and without deadlocks:
-- * Storing messages takes the advisory locks of their chats shared, for the whole
--   transaction, and gives a head to each chat that has none (an idle chat).
-- * A turn (or a dead-letter release) that finishes a chat's message sets head_id to
--   the oldest pending message it sees. If it sees none, it tries to take the chat's
--   advisory lock exclusively, without waiting. Holding it (no store of the chat is in
--   flight, and new ones wait for the commit), it looks again in a later statement (so
--   with a newer snapshot) and sets the oldest pending message or NULL. Not holding it
--   (a store is in flight), it leaves head_id as it was: the chat stays ready.
-- * A claim that finds a ready chat without a pending message (a store in flight at
--   the end of the last turn, which then stored nothing or has not committed yet)
--   settles its head the same way.
-- So a store either commits before the finishing turn (or claim) looks, or looks at
-- head_id after that commits; and a chat whose head may be stale stays ready. Only
-- stores wait for these locks, and only for a short claim or the commit of a turn
-- that left the chat idle (never for a game step); turns and claims never wait for
-- them, so no cycle of waits can form. head_id orders the ready chats; a claim runs
-- the chat's oldest pending message (which head_id may not be when stores raced).

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
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off SET jit = off
AS $$
DECLARE
    v_id         bigint[];
    v_platform   text[];
    v_chat_id    text[];
    v_message_id text[];
BEGIN
    -- Shared chat locks first, in key order, held to the end of the transaction.
    PERFORM pg_advisory_xact_lock_shared(k.key)
    FROM (SELECT DISTINCT fraser_chat_lock_key(m.platform, m.chat_id) AS key
          FROM unnest(p_platform, p_chat_id) AS m(platform, chat_id)
          ORDER BY 1) k;

    -- New messages, and a claim row for each new chat, both inserted in key order so
    -- that two overlapping batches wait for each other's keys in one order.
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
    -- Only chats without a claim row try to insert one: the insert of a key that exists
    -- would wait for whoever last updated the row (a finishing turn) to commit.
    new_chat AS (
        INSERT INTO inbox_chats (platform, chat_id, head_id)
        SELECT n.platform, n.chat_id, min(n.id) FROM new_message n
        WHERE NOT EXISTS (SELECT 1 FROM inbox_chats q
                          WHERE q.platform = n.platform AND q.chat_id = n.chat_id)
        GROUP BY n.platform, n.chat_id
        ORDER BY n.platform, n.chat_id
        ON CONFLICT DO NOTHING)
    SELECT array_agg(id), array_agg(platform), array_agg(chat_id), array_agg(message_id)
    INTO v_id, v_platform, v_chat_id, v_message_id
    FROM new_message;
    IF v_id IS NULL THEN
        RETURN;
    END IF;

    -- Idle chats (head_id NULL; and a new chat whose claim row a concurrent batch inserted
    -- first) get their oldest new message as their head. A fresh statement, so it sees
    -- rows committed meanwhile; rows are locked in key order. A busy chat matches
    -- nothing and is not locked at all.
    PERFORM 1
    FROM (
        SELECT q.platform, q.chat_id
        FROM (SELECT DISTINCT platform, chat_id
              FROM unnest(v_platform, v_chat_id) AS m(platform, chat_id)) c
        JOIN inbox_chats q ON q.platform = c.platform AND q.chat_id = c.chat_id
        WHERE q.head_id IS NULL
        ORDER BY q.platform, q.chat_id
        FOR UPDATE OF q
    ) locked;

    UPDATE inbox_chats q SET head_id = h.id
    FROM (SELECT m.platform, m.chat_id, min(m.id) AS id
          FROM unnest(v_platform, v_chat_id, v_id) AS m(platform, chat_id, id)
          GROUP BY m.platform, m.chat_id) h
    WHERE q.platform = h.platform AND q.chat_id = h.chat_id AND q.head_id IS NULL;

    RETURN QUERY SELECT * FROM unnest(v_platform, v_message_id);
END $$;

-- Settles the heads of chats whose exclusive advisory locks this transaction holds (and
-- whose claim rows it has locked): in a fresh statement, the oldest pending message or
-- NULL. No-op for NULL arrays.
CREATE FUNCTION fraser_settle_heads(p_platform text[], p_chat_id text[])
RETURNS void
LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off SET jit = off
AS $$
BEGIN
    IF p_platform IS NULL THEN
        RETURN;
    END IF;
    UPDATE inbox_chats q SET head_id = c.head_id
    FROM (SELECT c.platform, c.chat_id,
                 (SELECT min(i.id) FROM inbox i
                  WHERE i.platform = c.platform AND i.chat_id = c.chat_id
                    AND i.status = 'pending') AS head_id
          FROM unnest(p_platform, p_chat_id) AS c(platform, chat_id)) c
    WHERE q.platform = c.platform AND q.chat_id = c.chat_id
      AND q.head_id IS DISTINCT FROM c.head_id;
END $$;

-- Releases chats whose message a turn (or a dead-letter release) just finished, inside
-- that transaction, after the inbox update, holding the claim rows; the same row update
-- recomputes their heads, as the header describes: a chat with another pending message
-- keeps a head; a chat that looks idle is settled only under its exclusive advisory
-- lock, taken without waiting.
CREATE FUNCTION fraser_release_chats(p_platform text[], p_chat_id text[])
RETURNS void
LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off SET jit = off
AS $$
DECLARE
    v_idle_platform text[];
    v_idle_chat_id  text[];
BEGIN
    WITH released AS (
        UPDATE inbox_chats q
        SET lease_owner = NULL, lease_until_ms = 0, last_error = NULL,
            head_id = coalesce(
                (SELECT min(i.id) FROM inbox i
                 WHERE i.platform = q.platform AND i.chat_id = q.chat_id
                   AND i.status = 'pending'),
                CASE WHEN pg_try_advisory_xact_lock(fraser_chat_lock_key(q.platform, q.chat_id))
                     THEN NULL ELSE q.head_id END)
        FROM (SELECT DISTINCT platform, chat_id
              FROM unnest(p_platform, p_chat_id) AS m(platform, chat_id)) c
        WHERE q.platform = c.platform AND q.chat_id = c.chat_id
        RETURNING q.platform, q.chat_id, q.head_id)
    SELECT array_agg(r.platform), array_agg(r.chat_id) INTO v_idle_platform, v_idle_chat_id
    FROM released r
    WHERE r.head_id IS NULL;

    PERFORM fraser_settle_heads(v_idle_platform, v_idle_chat_id);
END $$;

-- Claims up to p_limit ready chats (head_id set, no unexpired lease), oldest head
-- first, each with its oldest pending message, looked up once the row is locked. The
-- claim rows are locked with SKIP LOCKED, so the claim never waits (and so is never part
-- of a deadlock) and concurrent claimers pass over each other's chats; locking re-checks
-- the row's newest version, so a chat leased or emptied meanwhile is skipped. A ready
-- chat without a pending message is settled (see the header). The plan walks the ready
-- index in order and stops after the batch (a bitmap scan and sort of every ready chat,
-- which a plan cached while the tables were small may pick, is ruled out; and so is
-- JIT, whose compile time a statement this small never earns back).
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
DECLARE
    v_platform text[];
    v_chat_id  text[];
BEGIN
    -- As in fraser_claim_turn: a lost claim is simply claimed again.
    PERFORM set_config('synchronous_commit', 'off', true);

    SELECT array_agg(r.platform), array_agg(r.chat_id) INTO v_platform, v_chat_id
    FROM (
        SELECT q.platform, q.chat_id
        FROM inbox_chats q
        WHERE q.head_id IS NOT NULL AND q.lease_until_ms <= p_now_ms
        ORDER BY q.head_id
        LIMIT p_limit
        FOR UPDATE OF q SKIP LOCKED
    ) r;
    IF v_platform IS NULL THEN
        RETURN;
    END IF;

    -- With the rows locked, a fresh statement: each chat's oldest pending message.
    RETURN QUERY
    WITH heads AS MATERIALIZED (
        SELECT r.platform, r.chat_id, o.id
        FROM unnest(v_platform, v_chat_id) AS r(platform, chat_id)
        CROSS JOIN LATERAL (
            SELECT i.id FROM inbox i
            WHERE i.platform = r.platform AND i.chat_id = r.chat_id AND i.status = 'pending'
            ORDER BY i.id
            LIMIT 1) o
    ),
    claimed AS (
        UPDATE inbox i SET attempts = i.attempts + 1
        FROM heads h
        WHERE i.id = h.id AND i.status = 'pending'
        RETURNING i.id, i.attempts, i.platform, i.chat_id, i.message_id, i.sender_id,
                  i.sender_name, i.text, i.is_group, i.reply_context, i.received_at_ms
    ),
    leased AS (
        UPDATE inbox_chats q
        SET lease_token = q.lease_token + 1, lease_owner = p_worker,
            lease_until_ms = p_now_ms + p_lease_ms
        FROM claimed c
        WHERE q.platform = c.platform AND q.chat_id = c.chat_id
        RETURNING q.platform, q.chat_id, q.lease_token
    )
    SELECT c.id, l.lease_token, c.attempts, c.platform, c.chat_id, c.message_id,
           c.sender_id, c.sender_name, c.text, c.is_group, c.reply_context, c.received_at_ms
    FROM claimed c
    JOIN leased l ON l.platform = c.platform AND l.chat_id = c.chat_id
    ORDER BY c.id;

    -- Ready chats without a pending message: settle those no store is writing to.
    SELECT array_agg(e.platform), array_agg(e.chat_id) INTO v_platform, v_chat_id
    FROM (
        SELECT r.platform, r.chat_id
        FROM unnest(v_platform, v_chat_id) AS r(platform, chat_id)
        WHERE NOT EXISTS (SELECT 1 FROM inbox i
                          WHERE i.platform = r.platform AND i.chat_id = r.chat_id
                            AND i.status = 'pending')
        OFFSET 0
    ) e
    WHERE pg_try_advisory_xact_lock(fraser_chat_lock_key(e.platform, e.chat_id));
    PERFORM fraser_settle_heads(v_platform, v_chat_id);
END $$;

-- 0001's single-chat claim and save no longer run: the server claims and saves a single
-- turn as a batch of one, so only the batch functions keep head_id.
DROP FUNCTION fraser_claim_turn(text, bigint, bigint);
DROP FUNCTION fraser_save_turn(text, text, bigint, bigint, jsonb, jsonb, jsonb, boolean,
                               jsonb, bigint);

-- 0002's fraser_save_turns, unchanged but for the release of the chats, which now also
-- recomputes their heads.
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

    PERFORM fraser_release_chats(array_agg(t.platform), array_agg(t.chat_id))
    FROM jsonb_to_recordset(p_turns) AS t(platform text, chat_id text);
END $$;
