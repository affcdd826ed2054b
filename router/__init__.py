"""The CloudFolio router: the public bundle API in front of the queue path and the legacy path."""
