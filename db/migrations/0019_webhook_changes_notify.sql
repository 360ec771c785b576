-- Whether any endpoint is active changes only when one is added, removed, switched on or off: each
-- such statement NOTIFYs, on commit, the webhook senders of every process. A sender that knows there
-- is none skips the claim every stamp's NOTIFY would otherwise cost (resolvers/webhook_sender.py).
CREATE FUNCTION notify_webhooks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dealflow_webhooks', '');  -- db/webhooks.py CHANGES_CHANNEL
    RETURN NULL;
END
$$;

CREATE TRIGGER webhooks_changed AFTER INSERT OR DELETE OR UPDATE OF active ON webhooks
    FOR EACH STATEMENT EXECUTE FUNCTION notify_webhooks_changed();
