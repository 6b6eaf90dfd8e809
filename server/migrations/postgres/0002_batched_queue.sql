-- Batched queue operations, so that one commit serves many chats: a worker claims
-- several chats at once (fraser_claim_turns) and runs their turns in one transaction
-- (fraser_begin_turns -> game steps in the server -> fraser_save_turns). Each chat is
-- handled exactly as by 0001's single-chat functions, which these call and which stay
-- in use. Batched inbox inserts and outbox updates are plain statements in the server.
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
        LIMIT p_limit * 4
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

-- Starts several turns inside the caller's transaction: fraser_begin_turn for each
-- element of p_turns (a jsonb array of {platform, chat_id, inbox_id, token, is_group,
-- sender_id, sender_name}), in array order (the server sorts it by chat, so that
-- concurrent batches lock chats in one order). Returns a row per turn whose claim
-- still holds (t_index: its 1-based position); a fenced turn has no row and wrote
-- nothing.
CREATE FUNCTION fraser_begin_turns(p_turns jsonb, p_top integer)
RETURNS TABLE (t_index integer, t_state jsonb, t_version bigint, t_scores jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    v_turn  jsonb;
    v_index bigint;
BEGIN
    FOR v_turn, v_index IN
        SELECT t.value, t.ordinality FROM jsonb_array_elements(p_turns) WITH ORDINALITY AS t
        ORDER BY t.ordinality
    LOOP
        RETURN QUERY
        SELECT v_index::integer, b.chat_state, b.chat_version, b.chat_scores
        FROM fraser_begin_turn(
            v_turn->>'platform', v_turn->>'chat_id', (v_turn->>'inbox_id')::bigint,
            (v_turn->>'token')::bigint, (v_turn->>'is_group')::boolean,
            v_turn->>'sender_id', v_turn->>'sender_name', p_top) AS b;
    END LOOP;
END $$;

-- Finishes several turns inside the caller's transaction (after fraser_begin_turns):
-- fraser_save_turn for each element of p_turns (a jsonb array of {platform, chat_id,
-- inbox_id, version, state, replies, deltas, is_group, reply_context}), in order.
-- Returns each turn's new version with its 1-based position. Any failure raises, and
-- the server then runs the batch's turns one by one.
CREATE FUNCTION fraser_save_turns(p_turns jsonb, p_now_ms bigint)
RETURNS TABLE (t_index integer, t_version bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_turn  jsonb;
    v_index bigint;
BEGIN
    FOR v_turn, v_index IN
        SELECT t.value, t.ordinality FROM jsonb_array_elements(p_turns) WITH ORDINALITY AS t
        ORDER BY t.ordinality
    LOOP
        t_index := v_index::integer;
        t_version := fraser_save_turn(
            v_turn->>'platform', v_turn->>'chat_id', (v_turn->>'inbox_id')::bigint,
            (v_turn->>'version')::bigint, v_turn->'state', v_turn->'replies',
            v_turn->'deltas', (v_turn->>'is_group')::boolean, v_turn->'reply_context',
            p_now_ms);
        RETURN NEXT;
    END LOOP;
END $$;
