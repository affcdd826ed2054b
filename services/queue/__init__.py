"""The queue machinery: the Dramatiq broker and middleware, actor registration, workers, the job
sweeper and queue administration. It runs the steps of ``services.sync``, ``services.merge`` and
``services.train`` as actors; nothing below this package imports Dramatiq or pika."""
