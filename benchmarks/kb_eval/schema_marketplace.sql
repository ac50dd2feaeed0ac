-- A multi-vendor marketplace (database "marketplace"): vendors list products with
-- free-form attributes (jsonb), shoppers buy and review them. Invented for
-- benchmarks/kb_eval.py; used nowhere else in the repository.

CREATE TABLE vendors (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    handle        text NOT NULL UNIQUE,
    display_name  text NOT NULL,
    country_code  char(2) NOT NULL,
    payout_email  text NOT NULL,
    tier          text NOT NULL DEFAULT 'basic',
    joined_at     timestamptz NOT NULL DEFAULT now(),
    suspended_at  timestamptz
);

CREATE TABLE categories (
    id         integer PRIMARY KEY,
    parent_id  integer REFERENCES categories,
    slug       text NOT NULL UNIQUE,
    name       text NOT NULL
);

CREATE TABLE listings (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vendor_id     bigint NOT NULL REFERENCES vendors,
    category_id   integer NOT NULL REFERENCES categories,
    sku           text NOT NULL,
    title         text NOT NULL,
    body          text,
    price_cents   integer NOT NULL,
    currency      char(3) NOT NULL DEFAULT 'EUR',
    stock         integer NOT NULL DEFAULT 0,
    state         text NOT NULL DEFAULT 'draft',
    attributes    jsonb NOT NULL DEFAULT '{}',
    published_at  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX listings_vendor_id_idx ON listings (vendor_id);
CREATE INDEX listings_category_published_idx ON listings (category_id, published_at);

CREATE TABLE shoppers (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email             text NOT NULL UNIQUE,
    full_name         text,
    locale            text NOT NULL DEFAULT 'en',
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz,
    marketing_opt_in  boolean NOT NULL DEFAULT false
);

CREATE TABLE purchases (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shopper_id   bigint NOT NULL REFERENCES shoppers,
    vendor_id    bigint NOT NULL REFERENCES vendors,
    status       text NOT NULL DEFAULT 'pending',
    total_cents  integer NOT NULL,
    coupon_code  text,
    placed_at    timestamp NOT NULL DEFAULT localtimestamp,
    paid_at      timestamp,
    shipped_at   timestamp
);
CREATE INDEX purchases_shopper_id_idx ON purchases (shopper_id);

CREATE TABLE purchase_lines (
    purchase_id  bigint NOT NULL REFERENCES purchases,
    line_no      integer NOT NULL,
    listing_id   bigint NOT NULL REFERENCES listings,
    quantity     integer NOT NULL,
    unit_cents   integer NOT NULL,
    PRIMARY KEY (purchase_id, line_no)
);

CREATE TABLE listing_reviews (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    listing_id  bigint NOT NULL REFERENCES listings,
    shopper_id  bigint NOT NULL REFERENCES shoppers,
    rating      smallint NOT NULL,
    headline    text,
    body        text,
    moderation  text NOT NULL DEFAULT 'pending',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wishlist_items (
    shopper_id  bigint NOT NULL REFERENCES shoppers,
    listing_id  bigint NOT NULL REFERENCES listings,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shopper_id, listing_id)
);
