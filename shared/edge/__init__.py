"""The HTTP edge, in one place: what each function does with a request (`handlers`,
`operator_handlers`), errors as problem+json (`web`), and the OpenAPI document (`openapi`)."""
