"""dealflow subscriptions/backends."""
