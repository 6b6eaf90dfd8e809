-- Batched queue operations, so that one commit serves many chats: a worker claims
-- several chats at once (fraser_claim_turns) and runs their turns in one transaction
-- (fraser_begin_turns -> game steps in the server -> fraser_save_turns). Each chat is
-- handled exactly as by 0001's single-chat functions (which stay in use), with one
-- statement per step for the whole batch instead of one per chat. Batched inbox inserts and outbox updates are plain statements in the server.
-- Never edit this file once applied anywhere: add a new numbered migration instead.

-- Claims up to p_limit chats, each as fraser_claim_turn would (its oldest pending
-- message, no unexpired lease, chat row locked with SKIP LOCKED so concurrent claimers
-- pass over it), oldest message first. One row per claimed chat.
CREATE FUNCTION fraser_claim_turns(
    p_worker text, p_now_ms bigint, p_lease_ms bigint, p_limit integer
)
RETURNS TABLE (
    c_inbox_id bigint, c_token bigint, c_attempts integer, c_platform text, c_chat_id text,
    c_message_id text, c_sender_id text, c_sender_name text, c_text text,
    c_is_group boolean, c_reply_context jsonb, c_received_at_ms bigint
)
LANGUAGE plpgsql AS $$
DECLARE
    v_candidate record;
    v_seen      text[] := '{}';
    v_key       text;
    v_inbox_id  bigint;
    v_token     bigint;
    v_count     integer := 0;
BEGIN
    -- As in fraser_claim_turn: a lost claim is simply claimed again.
    PERFORM set_config('synchronous_commit', 'off', true);

    -- A chat with several pending messages shows up once per message; the first (its
    -- oldest) counts, and the cursor skips the rows this function updates meanwhile.
    FOR v_candidate IN
        SELECT q.platform, q.chat_id
        FROM inbox i
        JOIN inbox_chats q ON q.platform = i.platform AND q.chat_id = i.chat_id
        WHERE i.status = 'pending' AND q.lease_until_ms <= p_now_ms
        ORDER BY i.id
        LIMIT p_limit::bigint * 4
        FOR UPDATE OF q SKIP LOCKED
    LOOP
        EXIT WHEN v_count >= p_limit;
        v_key := length(v_candidate.platform) || ':' || v_candidate.platform || v_candidate.chat_id;
        CONTINUE WHEN v_key = ANY (v_seen);
        v_seen := v_seen || v_key;

        -- Under the chat's lock: its oldest pending message (a fresh snapshot).
        SELECT i.id INTO v_inbox_id
        FROM inbox i
        WHERE i.platform = v_candidate.platform AND i.chat_id = v_candidate.chat_id
          AND i.status = 'pending'
        ORDER BY i.id
        LIMIT 1;
        CONTINUE WHEN NOT FOUND;

        UPDATE inbox_chats q
        SET lease_token = q.lease_token + 1, lease_owner = p_worker,
            lease_until_ms = p_now_ms + p_lease_ms
        WHERE q.platform = v_candidate.platform AND q.chat_id = v_candidate.chat_id
        RETURNING q.lease_token INTO v_token;

        v_count := v_count + 1;
        RETURN QUERY
        UPDATE inbox i SET attempts = i.attempts + 1
        WHERE i.id = v_inbox_id
        RETURNING i.id, v_token, i.attempts, i.platform, i.chat_id, i.message_id,
                  i.sender_id, i.sender_name, i.text, i.is_group, i.reply_context,
                  i.received_at_ms;
    END LOOP;
END $$;

-- Starts several turns inside the caller's transaction, as fraser_begin_turn does for
-- one, with one statement per step for the whole batch. p_turns is a jsonb array of
-- {n, platform, chat_id, inbox_id, token, is_group, sender_id, sender_name} (n: the
-- 1-based position), one per chat,
-- sorted by chat (so concurrent batches lock chats in one order). A turn whose claim
-- still holds (same token, message pending) gets its claim row locked, its chat and
-- sender's player record created if new (the sender's name refreshed), its chat row
-- locked, and a result row (t_index: its 1-based position; state, version, and the
-- scoreboard: the best p_top players and the sender). A fenced turn has no row and
-- wrote nothing.
CREATE FUNCTION fraser_begin_turns(p_turns jsonb, p_top integer)
RETURNS TABLE (t_index integer, t_state jsonb, t_version bigint, t_scores jsonb)
LANGUAGE plpgsql
-- The batch is small and the tables are large: always look rows up by key (the planner
-- cannot know the batch's size and would scan whole tables).
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
AS $$
DECLARE
    v_held bigint[];
BEGIN
    SELECT coalesce(array_agg(h.n), '{}') INTO v_held
    FROM (
        SELECT t.n
        FROM jsonb_to_recordset(p_turns)
             AS t(platform text, chat_id text, inbox_id bigint, token bigint, n bigint)
        JOIN inbox_chats q ON q.platform = t.platform AND q.chat_id = t.chat_id
        JOIN inbox i ON i.id = t.inbox_id
        WHERE q.lease_token = t.token AND q.lease_owner IS NOT NULL
          AND i.status = 'pending'
        ORDER BY t.n
        FOR UPDATE OF q
    ) h;
    IF cardinality(v_held) = 0 THEN
        RETURN;
    END IF;

    INSERT INTO chats AS c (platform, chat_id, is_group)
    SELECT t.platform, t.chat_id, t.is_group
    FROM jsonb_to_recordset(p_turns)
         AS t(platform text, chat_id text, is_group boolean, n bigint)
    WHERE t.n = ANY (v_held)
    ORDER BY t.n
    ON CONFLICT (platform, chat_id) DO NOTHING;

    INSERT INTO players AS p (platform, chat_id, player_id, name)
    SELECT t.platform, t.chat_id, t.sender_id, t.sender_name
    FROM jsonb_to_recordset(p_turns)
         AS t(platform text, chat_id text, sender_id text, sender_name text, n bigint)
    WHERE t.n = ANY (v_held)
    ORDER BY t.n
    ON CONFLICT (platform, chat_id, player_id)
    DO UPDATE SET name = EXCLUDED.name WHERE p.name IS DISTINCT FROM EXCLUDED.name;

    RETURN QUERY
    SELECT t.n::integer, c.state, c.version,
           (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'player_id', s.player_id, 'name', s.name, 'score', s.score)
                    ORDER BY s.score DESC, s.player_id), '[]'::jsonb)
            FROM (
                (SELECT p.player_id, p.name, p.score FROM players p
                 WHERE p.platform = t.platform AND p.chat_id = t.chat_id
                 ORDER BY p.score DESC, p.player_id
                 LIMIT p_top)
                UNION
                (SELECT p.player_id, p.name, p.score FROM players p
                 WHERE p.platform = t.platform AND p.chat_id = t.chat_id
                   AND p.player_id = t.sender_id)
            ) s)
    FROM jsonb_to_recordset(p_turns)
         AS t(platform text, chat_id text, sender_id text, n bigint)
    JOIN chats c ON c.platform = t.platform AND c.chat_id = t.chat_id
    WHERE t.n = ANY (v_held)
    ORDER BY t.n
    FOR UPDATE OF c;
END $$;

-- Finishes several turns inside the caller's transaction (after fraser_begin_turns),
-- as fraser_save_turn does for one, with one statement per step for the whole batch.
-- p_turns is a jsonb array of {n, platform, chat_id, inbox_id, version, state, replies,
-- deltas, is_group, reply_context} (n: the 1-based position), one per chat: saves each state with version + 1,
-- queues the replies (in turn order, then reply order, so ids follow them), applies
-- the score deltas, marks the messages done and releases the chats. Returns each
-- turn's new version with its 1-based position. Raises if a chat is not at the given
-- version (the server then runs the batch's turns one by one).
CREATE FUNCTION fraser_save_turns(p_turns jsonb, p_now_ms bigint)
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
END $$;
