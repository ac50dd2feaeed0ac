-- Deterministic synthetic data for schema_marketplace.sql (database "marketplace").
--
-- Run it after the schema, into empty tables, as one multi-statement string (or
-- psql -f). Plain SQL: no psql meta-commands and no random(): every value comes
-- from generate_series and md5() of the row number, so every run loads the same
-- rows and the same statistics. Ends with ANALYZE.
--
-- The data is a snapshot taken on 2025-07-01 00:00 UTC: every timestamp lies
-- before it. Purchases span the two years before it, listings and vendors go
-- back to 2019, shoppers to 2020. Statements relative to now() therefore see
-- all of the data in the past.
--
-- Rows (the same on every run):
--   categories          400  (16 departments, 48 product types, 336 leaves)
--   vendors           5,000  (151 suspended; tiers basic/plus/pro/enterprise)
--   listings        120,000  (73% active, 15% draft, 12% archived; jsonb
--                             attributes with color, size, material, brand, fit,
--                             connectivity, capacity_ml, ... by product type;
--                             SKUs with 48 prefixes such as TSH-, MUG-, HPH-,
--                             some lower-case, vendor-specific or EAN-like)
--   shoppers        100,000
--   purchases       150,000  (2023-07-01 .. 2025-06-30; 86% paid, 6% expired,
--                             4% refunded, 3% cancelled, 1,014 pending)
--   purchase_lines  270,361  (1 to 8 lines a purchase; the largest table)
--   listing_reviews  60,000
--   wishlist_items  124,998
--
-- Distributions are skewed as in a real shop: a few big vendors and popular
-- listings, repeat buyers, more activity in recent months. Ids of listings,
-- purchases and reviews grow with their creation time, as an application
-- inserting them over the years would leave them.
--
-- A uniform number in [0, 1) is a 7-hex-digit slice of md5(<label> || row):
--   ('x' || substr(h, 1, 7))::bit(28)::int / 268435456.0
-- Times are computed as epoch seconds (to_timestamp) or on timestamp without
-- time zone, so the session's TimeZone does not change the data.
-- Temporary tmp_* tables hold vocabularies and intermediate rows; they are
-- dropped before the final ANALYZE.

-- Sorts of 100,000s of rows stay in memory; reset at the end.
SET work_mem = '256MB';

-- ---------------------------------------------------------------------------
-- Vocabularies
-- ---------------------------------------------------------------------------

-- 48 product types: the second level of the category tree, the SKU prefix and
-- the noun of the title. Ordered by popularity (n = 1 is the most common).
CREATE TEMP TABLE tmp_ptype (n int PRIMARY KEY, code text, noun text, plural text,
                             grp text, top_id int, base_cents int);
INSERT INTO tmp_ptype VALUES
    ( 1, 'TSH', 'T-Shirt',     'T-Shirts',     'apparel',      1, 2400),
    ( 2, 'MUG', 'Mug',         'Mugs',         'home',         4, 1800),
    ( 3, 'PST', 'Poster',      'Posters',      'paper',       12, 1500),
    ( 4, 'NCK', 'Necklace',    'Necklaces',    'accessories', 11, 3900),
    ( 5, 'CSE', 'Phone Case',  'Phone Cases',  'electronics',  9, 1900),
    ( 6, 'SCK', 'Socks',       'Socks',        'apparel',      2,  900),
    ( 7, 'CND', 'Candle',      'Candles',      'home',         5, 2200),
    ( 8, 'STK', 'Sticker',     'Stickers',     'paper',       13,  350),
    ( 9, 'HOD', 'Hoodie',      'Hoodies',      'apparel',      1, 4900),
    (10, 'EBD', 'Earbuds',     'Earbuds',      'electronics',  7, 5900),
    (11, 'ERG', 'Earrings',    'Earrings',     'accessories', 11, 2900),
    (12, 'NTB', 'Notebook',    'Notebooks',    'paper',       13, 1400),
    (13, 'BAG', 'Tote Bag',    'Tote Bags',    'accessories', 10, 1900),
    (14, 'TEA', 'Tea',         'Teas',         'food',        14,  900),
    (15, 'PRT', 'Art Print',   'Art Prints',   'paper',       12, 2500),
    (16, 'RNG', 'Ring',        'Rings',        'accessories', 11, 3500),
    (17, 'HPH', 'Headphones',  'Headphones',   'electronics',  7, 8900),
    (18, 'PLW', 'Cushion',     'Cushions',     'home',         5, 2900),
    (19, 'TOY', 'Plush Toy',   'Plush Toys',   'toys',        15, 2200),
    (20, 'CFE', 'Coffee',      'Coffees',      'food',        14, 1200),
    (21, 'BPK', 'Backpack',    'Backpacks',    'accessories', 10, 6900),
    (22, 'DRS', 'Dress',       'Dresses',      'apparel',      1, 5900),
    (23, 'SWT', 'Sweater',     'Sweaters',     'apparel',      2, 6900),
    (24, 'BWL', 'Bowl',        'Bowls',        'home',         4, 2000),
    (25, 'CHG', 'Charger',     'Chargers',     'electronics',  9, 2900),
    (26, 'WLT', 'Wallet',      'Wallets',      'accessories', 10, 3900),
    (27, 'PZL', 'Puzzle',      'Puzzles',      'toys',        15, 2400),
    (28, 'CNV', 'Canvas',      'Canvases',     'paper',       12, 6900),
    (29, 'SCF', 'Scarf',       'Scarves',      'apparel',      2, 3400),
    (30, 'MSE', 'Mouse',       'Mice',         'electronics',  8, 3900),
    (31, 'BLK', 'Blanket',     'Blankets',     'home',         6, 5900),
    (32, 'SOA', 'Soap',        'Soaps',        'home',         6,  800),
    (33, 'HAT', 'Beanie',      'Beanies',      'apparel',      3, 2400),
    (34, 'KBD', 'Keyboard',    'Keyboards',    'electronics',  8, 8900),
    (35, 'SPK', 'Speaker',     'Speakers',     'electronics',  7, 6900),
    (36, 'CBL', 'Cable',       'Cables',       'electronics',  9, 1200),
    (37, 'CHC', 'Chocolate',   'Chocolates',   'food',        14,  700),
    (38, 'JKT', 'Jacket',      'Jackets',      'apparel',      3, 9900),
    (39, 'CAP', 'Cap',         'Caps',         'apparel',      3, 2200),
    (40, 'PLT', 'Plate',       'Plates',       'home',         4, 1800),
    (41, 'LMP', 'Lamp',        'Lamps',        'home',         5, 7900),
    (42, 'TWL', 'Towel',       'Towels',       'home',         6, 2400),
    (43, 'PEN', 'Pen',         'Pens',         'paper',       13,  900),
    (44, 'GME', 'Board Game',  'Board Games',  'toys',        15, 3400),
    (45, 'MPD', 'Mouse Pad',   'Mouse Pads',   'electronics',  8, 1500),
    (46, 'WCH', 'Watch',       'Watches',      'accessories', 16, 12900),
    (47, 'SNG', 'Sunglasses',  'Sunglasses',   'accessories', 16, 4900),
    (48, 'STR', 'Watch Strap', 'Watch Straps', 'accessories', 16, 2400);

-- Per group of product types: title adjectives, materials, product features
-- (for descriptions) and a closing line.
CREATE TEMP TABLE tmp_grp (grp text PRIMARY KEY, adjs text[], materials text[],
                           features text[], closings text[]);
INSERT INTO tmp_grp VALUES
    ('apparel',
     ARRAY['Classic', 'Vintage', 'Organic', 'Oversized', 'Slim Fit', 'Relaxed', 'Graphic',
           'Embroidered', 'Striped', 'Heavyweight', 'Lightweight', 'Everyday', 'Recycled',
           'Hand-Knitted', 'Thermal', 'Retro', 'Minimalist', 'Cropped', 'Ribbed', 'Essential'],
     ARRAY['cotton', 'organic cotton', 'cotton', 'merino wool', 'wool', 'linen', 'polyester',
           'fleece', 'cashmere', 'bamboo', 'denim', 'recycled polyester', 'alpaca wool'],
     ARRAY['cut for a relaxed fit', 'with a ribbed crew neck', 'knitted from soft merino wool',
           'with a reinforced heel and toe', 'printed with water-based inks',
           'pre-shrunk and garment dyed', 'with flatlock seams', 'with a brushed fleece lining',
           'that keeps you warm without the itch', 'in a true-to-size fit', 'with a cuffed hem',
           'with a hidden zip pocket'],
     ARRAY['Machine wash cold and hang to dry.', 'Wash inside out at 30 degrees.',
           'Model is 183 cm and wears size M.', 'Hand wash only, dry flat.']),
    ('home',
     ARRAY['Handmade', 'Rustic', 'Scandinavian', 'Hand-Painted', 'Speckled', 'Glazed', 'Scented',
           'Minimalist', 'Boho', 'Farmhouse', 'Personalised', 'Large', 'Vintage', 'Modern',
           'Artisan', 'Textured', 'Nordic', 'Japanese-Style'],
     ARRAY['ceramic', 'stoneware', 'porcelain', 'glass', 'soy wax', 'beeswax', 'cotton', 'linen',
           'oak', 'bamboo', 'velvet', 'terracotta'],
     ARRAY['thrown on the wheel and glazed by hand', 'with a hand-poured soy wax blend',
           'that holds 350 ml', 'with a matte speckled finish', 'that burns for about 45 hours',
           'with a removable, washable cover', 'finished with food-safe oil',
           'with a warm dimmable light', 'woven on traditional looms',
           'that brightens any shelf', 'with a lead-free glaze'],
     ARRAY['Dishwasher and microwave safe.', 'Each piece is unique, so colours may vary slightly.',
           'Trim the wick before every burn.', 'Spot clean only.']),
    ('electronics',
     ARRAY['Wireless', 'Bluetooth', 'Noise-Cancelling', 'Ergonomic', 'Mechanical', 'Compact',
           'Portable', 'Rechargeable', 'Fast-Charging', 'USB-C', 'Gaming', 'Foldable', 'Silent',
           'Backlit', 'Magnetic', 'Slim', 'Waterproof', 'Low-Profile', 'Travel', 'Pro'],
     ARRAY['plastic', 'aluminium', 'silicone', 'recycled plastic', 'nylon', 'tpu'],
     ARRAY['with up to 30 hours of battery life', 'with active noise cancellation',
           'with bluetooth 5.3 and multipoint pairing', 'with a silent click and adjustable dpi',
           'with hot-swappable switches', 'with 65W fast charging', 'with a braided 2 m cable',
           'with a 2.4 GHz wireless receiver', 'that pairs with up to three devices',
           'with a built-in microphone', 'with memory foam ear cushions',
           'with a drop-tested shockproof shell'],
     ARRAY['Comes with a 2-year warranty.', 'Batteries not included.',
           'Compatible with Windows, macOS, iOS and Android.', 'CE and FCC certified.']),
    ('accessories',
     ARRAY['Minimalist', 'Handmade', 'Vegan', 'Vintage', 'Personalised', 'Dainty', 'Chunky',
           'Engraved', 'Classic', 'Travel', 'Waterproof', 'Slim', 'Everyday', 'Statement',
           'Layered', 'Signature'],
     ARRAY['leather', 'vegan leather', 'canvas', 'sterling silver', 'gold-plated brass',
           'stainless steel', 'titanium', 'acetate', 'recycled nylon', 'cork', 'gold'],
     ARRAY['with a hand-stitched edge', 'with room for eight cards', 'that will not tarnish',
           'on an adjustable 45 cm chain', 'with a padded laptop sleeve', 'with RFID blocking',
           'with a scratch-resistant sapphire crystal', 'with UV400 polarised lenses',
           'in a recycled gift box', 'with a quick-release pin'],
     ARRAY['Arrives in a gift box.', 'Free engraving on request.',
           'Nickel-free and hypoallergenic.', 'Returns accepted within 30 days.']),
    ('paper',
     ARRAY['Botanical', 'Abstract', 'Vintage', 'Minimalist', 'Watercolor', 'Retro', 'Custom',
           'Personalised', 'Dotted', 'Lined', 'Hand-Drawn', 'Illustrated', 'Large', 'Mid-Century',
           'Typographic', 'Kawaii'],
     ARRAY['recycled paper', 'matte paper', 'archival paper', 'canvas', 'vinyl', 'linen paper'],
     ARRAY['printed on heavyweight archival paper', 'with 120 gsm dotted pages',
           'that lays flat when open', 'printed with museum-quality inks',
           'available framed or unframed', 'with a weatherproof vinyl finish',
           'with 192 numbered pages', 'signed by the artist'],
     ARRAY['Frame not included.', 'Ships rolled in a sturdy tube.', 'Printed on demand.',
           'Colours may look different on your screen.']),
    ('food',
     ARRAY['Organic', 'Single-Origin', 'Loose-Leaf', 'Fair-Trade', 'Dark', 'Spiced', 'Decaf',
           'Artisan', 'Small-Batch', 'Roasted', 'Vegan', 'Seasonal', 'Premium', 'Gift-Box'],
     ARRAY[]::text[],
     ARRAY['roasted every Tuesday in small batches', 'hand-blended with whole spices',
           'sourced directly from the farm', 'with notes of cocoa and cherry',
           'packed in a resealable tin', 'with 70 percent cocoa',
           'that brews a bright golden cup', 'grown without pesticides'],
     ARRAY['Store in a cool, dry place.', 'Best before date printed on the pack.',
           'May contain traces of nuts.', 'Packed plastic-free.']),
    ('toys',
     ARRAY['Wooden', 'Handmade', 'Educational', 'Family', 'Cooperative', 'Vintage', 'Crochet',
           'Organic', 'Personalised', 'Travel', 'Classic', 'Strategy', 'Montessori', 'Giant'],
     ARRAY['wood', 'cotton', 'felt', 'cardboard', 'plastic', 'wool'],
     ARRAY['made without plastic', 'sanded smooth and finished with beeswax',
           'for ages 3 and up', 'for 2 to 6 players', 'with 1000 thick cardboard pieces',
           'stuffed with organic cotton', 'that grows with your child',
           'with a drawstring storage bag'],
     ARRAY['Not suitable for children under 3.', 'Tested to EN 71.',
           'Includes a printed rule book.', 'Wipe clean with a damp cloth.']);

-- 400 brand names (k = 0 .. 399), two syllables each.
CREATE TEMP TABLE tmp_brand AS
SELECT (a.k - 1) * 20 + (b.k - 1) AS k, initcap(a.s || b.s) AS name
FROM unnest(ARRAY['nord', 'sol', 'kin', 'ash', 'bel', 'oak', 'fern', 'lun', 'mar', 'vel',
                  'bri', 'cor', 'dun', 'eld', 'fal', 'gro', 'hal', 'ivo', 'jun', 'kal'])
         WITH ORDINALITY AS a(s, k),
     unnest(ARRAY['a', 'ix', 'ora', 'wood', 'field', 'craft', 'line', 'ly', 'io', 'en',
                  'ara', 'mont', 'stone', 'well', 'co', 'vale', 'ink', 'leaf', 'bay', 'works'])
         WITH ORDINALITY AS b(s, k);

-- ---------------------------------------------------------------------------
-- categories: 16 departments, 48 product types under them, 7 leaves under each
-- ---------------------------------------------------------------------------
INSERT INTO categories (id, parent_id, slug, name)
SELECT id, NULL, slug, name
FROM (VALUES (1, 'clothing', 'Clothing'), (2, 'knitwear-socks', 'Knitwear & Socks'),
             (3, 'outerwear-hats', 'Outerwear & Hats'), (4, 'kitchen-dining', 'Kitchen & Dining'),
             (5, 'home-decor', 'Home Decor'), (6, 'bed-bath', 'Bed & Bath'), (7, 'audio', 'Audio'),
             (8, 'computer-accessories', 'Computer Accessories'),
             (9, 'phone-accessories', 'Phone Accessories'), (10, 'bags-wallets', 'Bags & Wallets'),
             (11, 'jewelry', 'Jewelry'), (12, 'wall-art', 'Wall Art'),
             (13, 'stationery', 'Stationery'), (14, 'food-drink', 'Food & Drink'),
             (15, 'toys-games', 'Toys & Games'), (16, 'watches-eyewear', 'Watches & Eyewear'))
     AS v(id, slug, name);

INSERT INTO categories (id, parent_id, slug, name)
SELECT 16 + n, top_id, trim(BOTH '-' FROM regexp_replace(lower(plural), '[^a-z0-9]+', '-', 'g')),
       plural
FROM tmp_ptype ORDER BY n;

INSERT INTO categories (id, parent_id, slug, name)
SELECT 64 + (p.n - 1) * 7 + q.k::int, 16 + p.n,
       trim(BOTH '-' FROM regexp_replace(lower(replace(q.name || ' ' || p.plural, '''', '')),
                                         '[^a-z0-9]+', '-', 'g')),
       q.name || ' ' || p.plural
FROM tmp_ptype p,
     unnest(CASE WHEN p.grp = 'apparel'
                 THEN ARRAY['Men''s', 'Women''s', 'Kids''', 'Unisex', 'Plus Size', 'Activewear',
                            'Vintage']
                 ELSE ARRAY['Everyday', 'Handmade', 'Personalised', 'Eco-Friendly', 'Vintage',
                            'Luxury', 'Gift Set'] END) WITH ORDINALITY AS q(name, k)
ORDER BY 1;

-- ---------------------------------------------------------------------------
-- vendors: 5,000; joined 2019-01-01 .. 2025-06-30, more of them recently
-- ---------------------------------------------------------------------------
INSERT INTO vendors (id, handle, display_name, country_code, payout_email, tier, joined_at,
                     suspended_at)
OVERRIDING SYSTEM VALUE
SELECT i,
       handle || CASE WHEN rn > 1 THEN '-' || rn ELSE '' END,
       display_name, country,
       CASE WHEN u4 < 0.6 THEN 'payouts@' || replace(handle, '-', '') || '.com'
            ELSE replace(handle, '-', '.') || (i % 97) || '@'
                 || (ARRAY['gmail.com', 'gmail.com', 'outlook.com', 'icloud.com', 'gmx.de',
                           'yahoo.com', 'proton.me'])[1 + floor(u5 * 7)::int] END,
       CASE WHEN u6 < 0.70 THEN 'basic' WHEN u6 < 0.90 THEN 'plus'
            WHEN u6 < 0.98 THEN 'pro' ELSE 'enterprise' END,
       joined_at,
       CASE WHEN u7 < 0.035
            THEN to_timestamp(extract(epoch FROM joined_at)::float8
                              + (1751327999 - extract(epoch FROM joined_at)::float8) * u8) END
FROM (
    SELECT i, u4, u5, u6, u7, u8, display_name, country, joined_at,
           trim(BOTH '-' FROM regexp_replace(lower(display_name), '[^a-z0-9]+', '-', 'g')) AS handle,
           row_number() OVER (PARTITION BY lower(display_name) ORDER BY i) AS rn
    FROM (
        SELECT i, u4, u5, u6, u7, u8,
               b.name || ' ' || (ARRAY['Studio', 'Co.', 'Goods', 'Supply', 'Workshop', 'Atelier',
                                       'Store', 'Collective', 'Trading', 'Labs', 'Design', 'Shop',
                                       'Home', 'Audio', 'Makers', 'Outfitters'])[1 + floor(u2 * 16)::int]
                   AS display_name,
               (ARRAY['DE', 'DE', 'DE', 'DE', 'DE', 'FR', 'FR', 'FR', 'GB', 'GB', 'GB', 'NL', 'NL',
                      'IT', 'IT', 'ES', 'ES', 'PL', 'US', 'US', 'US', 'SE', 'AT', 'BE', 'PT', 'DK',
                      'IE', 'CH', 'CZ', 'FI'])[1 + floor(u3 * 30)::int] AS country,
               to_timestamp(1546300800 + 204854400 * power((i - u9) / 5000.0, 0.7)) AS joined_at
        FROM (
            SELECT i,
                   ('x' || substr(h1, 1, 7))::bit(28)::int / 268435456.0::float8 AS u1,
                   ('x' || substr(h1, 8, 7))::bit(28)::int / 268435456.0::float8 AS u2,
                   ('x' || substr(h1, 15, 7))::bit(28)::int / 268435456.0::float8 AS u3,
                   ('x' || substr(h1, 22, 7))::bit(28)::int / 268435456.0::float8 AS u4,
                   ('x' || substr(h2, 1, 7))::bit(28)::int / 268435456.0::float8 AS u5,
                   ('x' || substr(h2, 8, 7))::bit(28)::int / 268435456.0::float8 AS u6,
                   ('x' || substr(h2, 15, 7))::bit(28)::int / 268435456.0::float8 AS u7,
                   ('x' || substr(h2, 22, 7))::bit(28)::int / 268435456.0::float8 AS u8,
                   ('x' || substr(h3, 1, 7))::bit(28)::int / 268435456.0::float8 AS u9
            FROM generate_series(1, 5000) AS i,
                 LATERAL (SELECT md5('vendor:a:' || i) AS h1, md5('vendor:b:' || i) AS h2,
                                 md5('vendor:c:' || i) AS h3) AS h
            OFFSET 0  -- compute each row's md5 slices once
        ) AS u
        JOIN tmp_brand AS b ON b.k = floor(u1 * 400)::int
    ) AS named
) AS v
ORDER BY i;

-- ---------------------------------------------------------------------------
-- listings: 120,000
-- ---------------------------------------------------------------------------
INSERT INTO listings (id, vendor_id, category_id, sku, title, body, price_cents, currency, stock,
                      state, attributes, published_at, updated_at)
OVERRIDING SYSTEM VALUE
SELECT row_number() OVER (ORDER BY created_e, i),
       vendor_id, category_id, sku, title, body, price_cents, currency, stock, state, attributes,
       CASE WHEN state <> 'draft' THEN to_timestamp(published_e) END,
       to_timestamp(updated_e)
FROM (
    SELECT i, vendor_id, category_id, state, created_e, published_e,
           -- archived listings were changed when archived; others mostly soon after publishing
           CASE WHEN state = 'archived'
                THEN published_e + (1751327999 - published_e) * (0.2 + 0.8 * u16)
                ELSE coalesce(published_e, created_e)
                     + (1751327999 - coalesce(published_e, created_e)) * power(u16, 4) END
               AS updated_e,
           CASE WHEN u14 < 0.08 THEN 'V' || vendor_id || '-' || lpad(i::text, 6, '0')
                WHEN u14 < 0.12 THEN '40' || lpad(((i::bigint * 2654435761) % 99999999999)::text, 11, '0')
                WHEN u14 < 0.16 THEN lower(code) || '-' || lpad(((i * 7919) % 100000)::text, 5, '0')
                                     || coalesce('-' || lower(sku_size), '')
                ELSE code || '-' || lpad(((i * 7919) % 100000)::text, 5, '0')
                     || coalesce('-' || sku_size, '') END AS sku,
           CASE WHEN u10 < 0.30 THEN adj1 || ' ' || noun
                WHEN u10 < 0.50 THEN adj1 || ' ' || coalesce(initcap(material) || ' ', '') || noun
                WHEN u10 < 0.70 THEN adj1 || ' ' || coalesce(initcap(color) || ' ', '') || noun
                WHEN u10 < 0.82 THEN brand || ' ' || adj1 || ' ' || noun
                                     || coalesce(' - ' || initcap(color), '')
                WHEN u10 < 0.90 THEN adj1 || ' ' || adj2 || ' ' || noun
                ELSE adj1 || ' ' || noun || ' "' || theme || '"' END
           || CASE WHEN u11 < 0.10
                   THEN ' | ' || (ARRAY['Gift for Her', 'Gift for Him', 'Birthday Gift',
                                         'Christmas Gift', 'Teacher Gift', 'Housewarming Gift',
                                         'Anniversary Gift', 'Gift for Mum', 'Gift for Dad',
                                         'Gift for Kids'])[1 + floor(u12 * 10)::int]
                   WHEN u11 < 0.16 AND size IS NOT NULL THEN ' (' || size || ')'
                   ELSE '' END AS title,
           CASE WHEN u13 < (CASE WHEN state = 'draft' THEN 0.25 ELSE 0.06 END) THEN NULL
                ELSE concat_ws(' ',
                    opener || ' ' || lower(adj1) || ' ' || lower(noun) || ' ' || feature || '.',
                    CASE WHEN material IS NOT NULL AND u15 < 0.8
                         THEN 'Made from ' || material || ' ' || origin || '.' END,
                    'Perfect for ' || use1 || ', ' || use2 || ' and ' || use3 || '.',
                    closing,
                    CASE WHEN u15 < 0.35
                         THEN 'Keywords: ' || kw1 || ', ' || kw2 || ', ' || kw3 || '.' END)
           END AS body,
           price_cents,
           CASE country WHEN 'GB' THEN 'GBP' WHEN 'US' THEN 'USD' WHEN 'SE' THEN 'SEK'
                        WHEN 'DK' THEN 'DKK' WHEN 'PL' THEN 'PLN' WHEN 'CH' THEN 'CHF'
                        WHEN 'CZ' THEN 'CZK' ELSE 'EUR' END AS currency,
           CASE WHEN state = 'archived' AND u12 < 0.6 THEN 0
                WHEN u12 < 0.12 THEN 0
                WHEN u12 < 0.25 THEN 1 + floor(u13 * 5)::int
                ELSE 1 + floor(400 * power(u13, 3))::int END AS stock,
           CASE WHEN u9 < 0.05 THEN '{}'::jsonb
           ELSE jsonb_strip_nulls(jsonb_build_object(
               'color', CASE WHEN grp <> 'food' AND u9 < 0.95 THEN color END,
               'size', size,
               'material', CASE WHEN u9 < 0.92 THEN material END,
               'brand', CASE WHEN grp NOT IN ('paper', 'food') OR u9 < 0.30 THEN brand END,
               'fit', CASE WHEN code IN ('TSH', 'HOD', 'DRS', 'SWT', 'JKT')
                           THEN (ARRAY['regular', 'regular', 'slim', 'relaxed', 'oversized'])[1 + floor(u12 * 5)::int] END,
               'connectivity', CASE WHEN code IN ('HPH', 'EBD', 'SPK', 'MSE', 'KBD')
                                    THEN (ARRAY['bluetooth', 'bluetooth', '2.4ghz', 'wired', 'usb-c'])[1 + floor(u12 * 5)::int] END,
               'warranty_months', CASE WHEN grp = 'electronics'
                                       THEN (ARRAY[12, 24, 24, 24, 36])[1 + floor(u16 * 5)::int] END,
               'battery_hours', CASE WHEN code IN ('HPH', 'EBD', 'SPK') THEN 6 + floor(u15 * 55)::int END,
               'capacity_ml', CASE WHEN code IN ('MUG', 'BWL')
                                   THEN (ARRAY[250, 300, 350, 350, 400, 500, 750])[1 + floor(u16 * 7)::int] END,
               'dishwasher_safe', CASE WHEN code IN ('MUG', 'BWL', 'PLT') THEN u15 < 0.7 END,
               'burn_hours', CASE WHEN code = 'CND' THEN 20 + floor(u15 * 60)::int END,
               'framed', CASE WHEN code IN ('PST', 'PRT', 'CNV') THEN u16 < 0.3 END,
               'weight_g', CASE WHEN grp = 'food'
                                THEN (ARRAY[50, 100, 100, 250, 250, 500, 1000])[1 + floor(u16 * 7)::int] END,
               'origin', CASE WHEN grp = 'food'
                              THEN (ARRAY['Ethiopia', 'Colombia', 'Kenya', 'India', 'China', 'Japan',
                                          'Brazil', 'Guatemala', 'Sri Lanka', 'Peru', 'Ecuador',
                                          'Ghana'])[1 + floor(u15 * 12)::int] END,
               'organic', CASE WHEN grp IN ('food', 'apparel') AND u16 < 0.3 THEN true END,
               'age_min', CASE WHEN grp = 'toys' THEN (ARRAY[0, 1, 3, 3, 6, 8, 12])[1 + floor(u16 * 7)::int] END,
               'pieces', CASE WHEN code = 'PZL'
                              THEN (ARRAY[100, 250, 500, 1000, 1000, 1500, 2000])[1 + floor(u15 * 7)::int] END,
               'handmade', CASE WHEN grp IN ('home', 'accessories', 'paper', 'toys') AND u14 > 0.75
                                THEN true END,
               'gift_wrap', CASE WHEN u11 > 0.9 THEN true END))
           END AS attributes
    FROM (
        SELECT x.*,
               p.code, p.noun, p.grp, p.base_cents,
               64 + (p.n - 1) * 7 + 1 + floor(7 * power(x.u3, 1.5))::int AS category_id,
               v.country_code AS country,
               extract(epoch FROM v.joined_at)::float8
                   + (1751327999 - extract(epoch FROM v.joined_at)::float8) * power(x.u4, 0.6)
                   AS created_e,
               CASE WHEN x.u5 < 0.75 AND v.suspended_at IS NOT NULL THEN 'archived'
                    WHEN x.u5 < 0.75 THEN 'active' WHEN x.u5 < 0.90 THEN 'draft'
                    ELSE 'archived' END AS state,
               greatest(199, CASE WHEN x.u7 < 0.85
                                  THEN round(p.base_cents * (0.5 + 2.5 * x.u6 * x.u6) / 100) * 100 - 1
                                  ELSE round(p.base_cents * (0.5 + 2.5 * x.u6 * x.u6)) END)::int
                   AS price_cents,
               g.adjs[1 + floor(x.u8 * cardinality(g.adjs))::int] AS adj1,
               g.adjs[1 + floor(x.u2 * cardinality(g.adjs))::int] AS adj2,
               CASE WHEN cardinality(g.materials) > 0
                    THEN g.materials[1 + floor(power(x.u3c, 1.5) * cardinality(g.materials))::int] END
                   AS material,
               g.features[1 + floor(x.u15 * cardinality(g.features))::int] AS feature,
               g.closings[1 + floor(x.u16 * cardinality(g.closings))::int] AS closing,
               (ARRAY['black', 'white', 'navy', 'grey', 'blue', 'charcoal', 'beige', 'green', 'red',
                      'natural', 'brown', 'pink', 'olive', 'cream', 'burgundy', 'sage', 'mustard',
                      'teal', 'silver', 'gold', 'lavender', 'khaki', 'orange', 'yellow', 'purple',
                      'ivory', 'coral', 'mint', 'rose gold', 'multicolor'])[1 + floor(30 * power(x.u9b, 1.8))::int]
                   AS color,
               CASE WHEN p.code = 'SCK' THEN (ARRAY['35-38', '39-42', '39-42', '43-46'])[1 + floor(x.u12b * 4)::int]
                    WHEN p.code IN ('HAT', 'CAP') THEN (ARRAY['one size', 'one size', 'S/M', 'L/XL'])[1 + floor(x.u12b * 4)::int]
                    WHEN p.grp = 'apparel' THEN (ARRAY['XS', 'S', 'S', 'M', 'M', 'M', 'L', 'L', 'L', 'XL', 'XL', 'XXL', '3XL'])[1 + floor(x.u12b * 13)::int]
                    WHEN p.code = 'RNG' THEN (48 + floor(x.u12b * 15)::int)::text
                    WHEN p.code IN ('PST', 'PRT', 'CNV') THEN (ARRAY['A4', 'A3', 'A3', 'A2', '30x40 cm', '50x70 cm', '70x100 cm'])[1 + floor(x.u12b * 7)::int]
                    WHEN p.code = 'BLK' THEN (ARRAY['130x170 cm', '150x200 cm', '200x220 cm'])[1 + floor(x.u12b * 3)::int]
                    WHEN p.code = 'CSE' THEN (ARRAY['iPhone 13', 'iPhone 14', 'iPhone 15', 'iPhone 15 Pro', 'iPhone 16', 'Galaxy S23', 'Galaxy S24', 'Pixel 8', 'Pixel 9'])[1 + floor(x.u12b * 9)::int]
               END AS size,
               CASE WHEN p.grp = 'apparel' AND p.code NOT IN ('SCK', 'HAT', 'CAP')
                    THEN (ARRAY['XS', 'S', 'S', 'M', 'M', 'M', 'L', 'L', 'L', 'XL', 'XL', 'XXL', '3XL'])[1 + floor(x.u12b * 13)::int]
               END AS sku_size,
               CASE WHEN x.u1b < 0.65 THEN vb.name ELSE ob.name END AS brand,
               (ARRAY['Mountain', 'Ocean', 'Wildflower', 'Fox', 'Cat', 'Sunset', 'Forest', 'Moon Phase',
                      'Mushroom', 'Wave', 'Desert', 'Bee', 'Lemon', 'Tiger', 'Whale', 'Fern', 'Galaxy',
                      'Koi', 'Dinosaur', 'Bicycle', 'Coffee', 'Ramen', 'Skull', 'Rainbow', 'City Skyline',
                      'Lighthouse', 'Cactus', 'Hummingbird', 'Bear', 'Alpine'])[1 + floor(x.u13 * 30)::int]
                   AS theme,
               (ARRAY['Meet the', 'Introducing our', 'Our best-selling', 'A beautifully made',
                      'The perfect', 'Handcrafted in small batches, our', 'Designed in-house, our',
                      'Back in stock: our', 'Upgrade your day with our', 'Thoughtfully designed, our',
                      'Say hello to our', 'Made to last, our', 'A customer favourite, our',
                      'New season', 'Limited edition', 'Simple and honest, our'])[1 + floor(x.u14 * 16)::int]
                   AS opener,
               (ARRAY['in our Lisbon workshop', 'by a family business in Portugal', 'in small batches',
                      'in Europe', 'and responsibly sourced', 'in Italy', 'in Poland', 'in Vietnam',
                      'in India', 'in Turkey', 'in our Berlin studio', 'in Scotland',
                      'by independent makers', 'in Mexico'])[1 + floor(x.u1b * 14)::int]
                   AS origin,
               uses[1 + floor(x.u2b * 50)::int] AS use1,
               uses[1 + floor(x.u3b * 50)::int] AS use2,
               uses[1 + floor(x.u4b * 50)::int] AS use3,
               kws[1 + floor(x.u5b * 120)::int] AS kw1,
               kws[1 + floor(x.u6b * 120)::int] AS kw2,
               kws[1 + floor(x.u7b * 120)::int] AS kw3
        FROM (
            SELECT i,
                   1 + ((floor(5000 * power(u1, 2.5))::int * 2039) % 5000) AS vendor_id,
                   1 + floor(48 * power(u2b2, 1.5))::int AS ptype_n,
                   u1, u2, u3, u4, u5, u6, u7, u8, u9, u10, u11, u12, u13, u14, u15, u16,
                   u1b, u2b, u3b, u4b, u5b, u6b, u7b, u9b, u12b, u2b2, u3c
            FROM (
                SELECT i,
                       ('x' || substr(h1, 1, 7))::bit(28)::int / 268435456.0::float8 AS u1,
                       ('x' || substr(h1, 8, 7))::bit(28)::int / 268435456.0::float8 AS u2,
                       ('x' || substr(h1, 15, 7))::bit(28)::int / 268435456.0::float8 AS u3,
                       ('x' || substr(h1, 22, 7))::bit(28)::int / 268435456.0::float8 AS u4,
                       ('x' || substr(h2, 1, 7))::bit(28)::int / 268435456.0::float8 AS u5,
                       ('x' || substr(h2, 8, 7))::bit(28)::int / 268435456.0::float8 AS u6,
                       ('x' || substr(h2, 15, 7))::bit(28)::int / 268435456.0::float8 AS u7,
                       ('x' || substr(h2, 22, 7))::bit(28)::int / 268435456.0::float8 AS u8,
                       ('x' || substr(h3, 1, 7))::bit(28)::int / 268435456.0::float8 AS u9,
                       ('x' || substr(h3, 8, 7))::bit(28)::int / 268435456.0::float8 AS u10,
                       ('x' || substr(h3, 15, 7))::bit(28)::int / 268435456.0::float8 AS u11,
                       ('x' || substr(h3, 22, 7))::bit(28)::int / 268435456.0::float8 AS u12,
                       ('x' || substr(h4, 1, 7))::bit(28)::int / 268435456.0::float8 AS u13,
                       ('x' || substr(h4, 8, 7))::bit(28)::int / 268435456.0::float8 AS u14,
                       ('x' || substr(h4, 15, 7))::bit(28)::int / 268435456.0::float8 AS u15,
                       ('x' || substr(h4, 22, 7))::bit(28)::int / 268435456.0::float8 AS u16,
                       ('x' || substr(h5, 1, 7))::bit(28)::int / 268435456.0::float8 AS u1b,
                       ('x' || substr(h5, 8, 7))::bit(28)::int / 268435456.0::float8 AS u2b,
                       ('x' || substr(h5, 15, 7))::bit(28)::int / 268435456.0::float8 AS u3b,
                       ('x' || substr(h5, 22, 7))::bit(28)::int / 268435456.0::float8 AS u4b,
                       ('x' || substr(h6, 1, 7))::bit(28)::int / 268435456.0::float8 AS u5b,
                       ('x' || substr(h6, 8, 7))::bit(28)::int / 268435456.0::float8 AS u6b,
                       ('x' || substr(h6, 15, 7))::bit(28)::int / 268435456.0::float8 AS u7b,
                       ('x' || substr(h6, 22, 7))::bit(28)::int / 268435456.0::float8 AS u9b,
                       ('x' || substr(h7, 1, 7))::bit(28)::int / 268435456.0::float8 AS u12b,
                       ('x' || substr(h7, 8, 7))::bit(28)::int / 268435456.0::float8 AS u2b2,
                       ('x' || substr(h7, 15, 7))::bit(28)::int / 268435456.0::float8 AS u3c
                FROM generate_series(1, 120000) AS i,
                     LATERAL (SELECT md5('listing:a:' || i) AS h1, md5('listing:b:' || i) AS h2,
                                     md5('listing:c:' || i) AS h3, md5('listing:d:' || i) AS h4,
                                     md5('listing:e:' || i) AS h5, md5('listing:f:' || i) AS h6,
                                     md5('listing:g:' || i) AS h7) AS h
                OFFSET 0  -- compute each row's md5 slices once
            ) AS u
        ) AS x
        JOIN tmp_ptype AS p ON p.n = x.ptype_n
        JOIN tmp_grp AS g ON g.grp = p.grp
        JOIN vendors AS v ON v.id = x.vendor_id
        JOIN tmp_brand AS vb ON vb.k = (x.vendor_id * 7919) % 400
        JOIN tmp_brand AS ob ON ob.k = floor(400 * power(x.u2, 1.7))::int,
        LATERAL (SELECT
            ARRAY['everyday use', 'travel', 'gifting', 'the office', 'lazy weekends', 'hiking',
                  'camping', 'gaming', 'studying', 'commuting', 'the gym', 'rainy days',
                  'coffee lovers', 'tea lovers', 'cat lovers', 'dog lovers', 'birthdays', 'weddings',
                  'anniversaries', 'christmas', 'housewarming parties', 'new parents', 'teachers',
                  'students', 'runners', 'cyclists', 'musicians', 'gardeners', 'home bakers',
                  'bookworms', 'remote workers', 'festivals', 'the beach', 'date night', 'game night',
                  'kids rooms', 'minimalist homes', 'small spaces', 'long flights', 'road trips',
                  'winter evenings', 'summer picnics', 'yoga', 'meditation', 'collectors',
                  'designers', 'photographers', 'artists', 'nurses', 'developers'] AS uses,
            ARRAY['aesthetic', 'cottagecore', 'scandi', 'boho', 'y2k', 'streetwear', 'athleisure',
                  'capsule wardrobe', 'slow fashion', 'zero waste', 'sustainable', 'eco friendly',
                  'plastic free', 'vegan', 'cruelty free', 'fair trade', 'upcycled', 'handmade',
                  'small business', 'made in europe', 'gift idea', 'stocking stuffer', 'secret santa',
                  'mothers day', 'fathers day', 'valentines', 'graduation', 'retirement', 'baby shower',
                  'bridesmaid', 'groomsmen', 'best friend', 'coworker', 'hostess', 'thank you',
                  'home office', 'desk setup', 'wfh', 'productivity', 'journaling', 'bullet journal',
                  'planner', 'stationery addict', 'gallery wall', 'wall art', 'nursery decor',
                  'living room', 'bedroom', 'kitchen', 'bathroom', 'hygge', 'cozy', 'autumn', 'winter',
                  'spring', 'summer', 'halloween', 'easter', 'ramadan', 'diwali', 'hanukkah',
                  'lunar new year', 'pride', 'earth day', 'outdoor', 'adventure', 'wanderlust',
                  'van life', 'festival', 'beach', 'surf', 'ski', 'climbing', 'running', 'cycling',
                  'yoga', 'pilates', 'crossfit', 'audiophile', 'hifi', 'gamer', 'esports', 'streamer',
                  'podcast', 'tech gift', 'gadget', 'iphone', 'android', 'macbook', 'ipad', 'usb c',
                  'magsafe', 'qi charging', 'espresso', 'pour over', 'matcha', 'chai', 'barista',
                  'foodie', 'chocolate lover', 'bakery', 'picnic', 'tableware', 'dinnerware',
                  'ceramics', 'pottery', 'wheel thrown', 'stoneware', 'minimal', 'monochrome',
                  'pastel', 'neon', 'retro', 'vintage style', 'art deco', 'mid century', 'bauhaus',
                  'japandi', 'wabi sabi', 'kawaii', 'anime', 'fandom', 'bookish', 'dark academia',
                  'witchy', 'celestial'] AS kws
        ) AS voc
    ) AS picked
    CROSS JOIN LATERAL (SELECT CASE WHEN state = 'draft' THEN NULL::float8
                                    ELSE created_e + least(172800 * power(u13, 3),
                                                           (1751327999 - created_e) * u13) END
                               AS published_e) AS pub
) AS l
ORDER BY 1;

-- ---------------------------------------------------------------------------
-- shoppers: 100,000; signed up 2020-01-01 .. 2025-06-30, more of them recently.
-- created_at(i) = 2020-01-01 + 173491200 s * ((i - u) / 100000) ^ 0.6, so the
-- shoppers who existed at epoch t are ids 1 .. 100000 * ((t - 1577836800) / 173491200) ^ (1/0.6).
-- ---------------------------------------------------------------------------
INSERT INTO shoppers (id, email, full_name, locale, created_at, last_seen_at, marketing_opt_in)
OVERRIDING SYSTEM VALUE
SELECT i,
       base || CASE WHEN rn > 1 THEN rn::text ELSE '' END || '@' || domain,
       CASE WHEN u6 < 0.09 THEN NULL ELSE first || ' ' || last END,
       locale, created_at,
       CASE WHEN u7 < 0.11 THEN NULL
            ELSE to_timestamp(extract(epoch FROM created_at)::float8
                              + (1751327999 - extract(epoch FROM created_at)::float8) * (1 - power(u8, 3))) END,
       u9 < 0.34
FROM (
    SELECT *, row_number() OVER (PARTITION BY lower(base), domain ORDER BY i) AS rn
    FROM (
        SELECT i, u6, u7, u8, u9, first, last,
               CASE WHEN u3 < 0.45 THEN lower(first) || '.' || lower(elast)
                    WHEN u3 < 0.53 THEN first || '.' || elast
                    WHEN u3 < 0.66 THEN lower(first) || lower(elast)
                    WHEN u3 < 0.76 THEN lower(left(first, 1)) || '.' || lower(elast)
                    WHEN u3 < 0.85 THEN lower(first) || '_' || lower(elast)
                    ELSE lower(first) || (1955 + floor(u10 * 50)::int) END AS base,
               (ARRAY['gmail.com', 'gmail.com', 'gmail.com', 'gmail.com', 'outlook.com', 'outlook.com',
                      'hotmail.com', 'yahoo.com', 'icloud.com', 'icloud.com', 'gmx.de', 'web.de',
                      't-online.de', 'orange.fr', 'free.fr', 'libero.it', 'proton.me', 'example.com',
                      'mail.example', 'wp.pl'])[1 + floor(u4 * 20)::int] AS domain,
               CASE WHEN u5 < 0.44 THEN 'en' WHEN u5 < 0.60 THEN 'de' WHEN u5 < 0.72 THEN 'fr'
                    WHEN u5 < 0.80 THEN 'es' WHEN u5 < 0.86 THEN 'it' WHEN u5 < 0.91 THEN 'nl'
                    WHEN u5 < 0.95 THEN 'pl' WHEN u5 < 0.98 THEN 'pt' ELSE 'sv' END AS locale,
               to_timestamp(1577836800 + 173491200 * power((i - u11) / 100000.0, 0.6)) AS created_at
        FROM (
            SELECT i,
                   ('x' || substr(h1, 1, 7))::bit(28)::int / 268435456.0::float8 AS u1,
                   ('x' || substr(h1, 8, 7))::bit(28)::int / 268435456.0::float8 AS u2,
                   ('x' || substr(h1, 15, 7))::bit(28)::int / 268435456.0::float8 AS u3,
                   ('x' || substr(h1, 22, 7))::bit(28)::int / 268435456.0::float8 AS u4,
                   ('x' || substr(h2, 1, 7))::bit(28)::int / 268435456.0::float8 AS u5,
                   ('x' || substr(h2, 8, 7))::bit(28)::int / 268435456.0::float8 AS u6,
                   ('x' || substr(h2, 15, 7))::bit(28)::int / 268435456.0::float8 AS u7,
                   ('x' || substr(h2, 22, 7))::bit(28)::int / 268435456.0::float8 AS u8,
                   ('x' || substr(h3, 1, 7))::bit(28)::int / 268435456.0::float8 AS u9,
                   ('x' || substr(h3, 8, 7))::bit(28)::int / 268435456.0::float8 AS u10,
                   ('x' || substr(h3, 15, 7))::bit(28)::int / 268435456.0::float8 AS u11
            FROM generate_series(1, 100000) AS i,
                 LATERAL (SELECT md5('shopper:a:' || i) AS h1, md5('shopper:b:' || i) AS h2,
                                 md5('shopper:c:' || i) AS h3) AS h
            OFFSET 0  -- compute each row's md5 slices once
        ) AS u,
        LATERAL (SELECT
            (ARRAY['Ana', 'Lucas', 'Mia', 'Noah', 'Emma', 'Leon', 'Sofia', 'Luca', 'Hannah', 'Elias',
                   'Lea', 'Finn', 'Chloe', 'Hugo', 'Camille', 'Louis', 'Julia', 'Mateo', 'Lucia',
                   'Pablo', 'Giulia', 'Marco', 'Anna', 'Jan', 'Zofia', 'Jakub', 'Sara', 'Oliver',
                   'Amelia', 'Jack', 'Olivia', 'Harry', 'Isla', 'George', 'Emily', 'James', 'Sophie',
                   'Thomas', 'Laura', 'David', 'Maria', 'Daniel', 'Nina', 'Max', 'Clara', 'Paul',
                   'Ines', 'Tiago', 'Freya', 'Erik', 'Aisha', 'Omar', 'Yuki', 'Kenji', 'Priya',
                   'Arjun', 'Chen', 'Mei', 'Fatima', 'Ali'])[1 + floor(power(u1, 1.3) * 60)::int] AS first,
            (ARRAY['Lima', 'Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner',
                   'Martin', 'Bernard', 'Dubois', 'Thomas', 'Robert', 'Richard', 'Petit', 'Garcia',
                   'Fernandez', 'Lopez', 'Martinez', 'Rossi', 'Russo', 'Ferrari', 'Esposito', 'Bianchi',
                   'Nowak', 'Kowalski', 'Wisniewski', 'Jansen', 'de Vries', 'van Dijk', 'Smith',
                   'Jones', 'Taylor', 'Brown', 'Williams', 'Wilson', 'Johnson', 'Davies', 'Evans',
                   'Silva', 'Santos', 'Ferreira', 'Costa', 'Andersson', 'Johansson', 'Nielsen',
                   'Hansen', 'Murphy', 'Kelly', 'Novak', 'Horvat', 'Papadopoulos', 'Yilmaz', 'Kaya',
                   'Khan', 'Patel', 'Singh', 'Wang', 'Li', 'Tanaka'])[1 + floor(u2 * 60)::int] AS last
        ) AS n,
        LATERAL (SELECT replace(replace(n.last, ' ', ''), 'ü', 'ue') AS elast) AS e
    ) AS s
) AS s2
ORDER BY i;

-- ---------------------------------------------------------------------------
-- Helpers for the rest: listings that can be bought (not drafts) in an order
-- of popularity, and each vendor's buyable listings.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE tmp_pop AS
SELECT row_number() OVER (ORDER BY md5('popularity:' || id)) AS rank,
       id AS listing_id, vendor_id, price_cents, published_at
FROM listings WHERE state <> 'draft';

CREATE TEMP TABLE tmp_vendor_listings AS
SELECT vendor_id, array_agg(id ORDER BY id) AS ids, array_agg(price_cents ORDER BY id) AS prices
FROM listings WHERE state <> 'draft' GROUP BY vendor_id;

-- ---------------------------------------------------------------------------
-- purchases: 150,000 between 2023-07-01 and 2025-06-30, more of them recently,
-- mostly in the daytime. A purchase is from one vendor: its first line is a
-- listing picked by popularity, the others are more of that vendor's listings.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE tmp_purchase AS
SELECT i AS id, placed_at, p.vendor_id, p.listing_id AS first_listing, p.price_cents AS first_price,
       -- shoppers who had signed up by then; a quarter are new, the rest skew to loyal ones
       greatest(1, CASE WHEN u5 < 0.25 THEN smax - floor(u6 * 0.02 * smax)::int
                        ELSE 1 + floor(smax * power(u6, 1.3))::int END) AS shopper_id,
       CASE WHEN u7 < 0.55 THEN 1 WHEN u7 < 0.80 THEN 2 WHEN u7 < 0.92 THEN 3
            WHEN u7 < 0.97 THEN 4 ELSE 5 + floor(u8 * 4)::int END AS nlines,
       CASE WHEN placed_at >= timestamp '2025-06-28 00:00:00'
            THEN CASE WHEN u9 < 0.35 THEN 'pending' WHEN u9 < 0.95 THEN 'paid' ELSE 'cancelled' END
            ELSE CASE WHEN u9 < 0.86 THEN 'paid' WHEN u9 < 0.90 THEN 'refunded'
                      WHEN u9 < 0.93 THEN 'cancelled' WHEN u9 < 0.995 THEN 'expired'
                      ELSE 'pending' END END AS status,
       u10, u11, u12, u13, u14, u15
FROM (
    SELECT *,
           least(100000, floor(100000 * power(greatest(0, extract(epoch FROM placed_at)::float8 - 1577836800)
                                               / 173491200, 1 / 0.6))::int) AS smax
    FROM (
        SELECT i, u5, u6, u7, u8, u9, u10, u11, u12, u13, u14, u15,
               timestamp '2023-07-01 00:00:00'
               + floor(731 * power((i - u1) / 150000.0, 0.8)) * interval '1 day'
               + CASE WHEN u2 < 0.2 THEN u3 * 86400 ELSE 25200 + u3 * 59400 END * interval '1 second'
                   AS placed_at,
               1 + floor(ntop * power(u4, 2.2))::int AS pop_rank
        FROM (
            SELECT i,
                   ('x' || substr(h1, 1, 7))::bit(28)::int / 268435456.0::float8 AS u1,
                   ('x' || substr(h1, 8, 7))::bit(28)::int / 268435456.0::float8 AS u2,
                   ('x' || substr(h1, 15, 7))::bit(28)::int / 268435456.0::float8 AS u3,
                   ('x' || substr(h1, 22, 7))::bit(28)::int / 268435456.0::float8 AS u4,
                   ('x' || substr(h2, 1, 7))::bit(28)::int / 268435456.0::float8 AS u5,
                   ('x' || substr(h2, 8, 7))::bit(28)::int / 268435456.0::float8 AS u6,
                   ('x' || substr(h2, 15, 7))::bit(28)::int / 268435456.0::float8 AS u7,
                   ('x' || substr(h2, 22, 7))::bit(28)::int / 268435456.0::float8 AS u8,
                   ('x' || substr(h3, 1, 7))::bit(28)::int / 268435456.0::float8 AS u9,
                   ('x' || substr(h3, 8, 7))::bit(28)::int / 268435456.0::float8 AS u10,
                   ('x' || substr(h3, 15, 7))::bit(28)::int / 268435456.0::float8 AS u11,
                   ('x' || substr(h3, 22, 7))::bit(28)::int / 268435456.0::float8 AS u12,
                   ('x' || substr(h4, 1, 7))::bit(28)::int / 268435456.0::float8 AS u13,
                   ('x' || substr(h4, 8, 7))::bit(28)::int / 268435456.0::float8 AS u14,
                   ('x' || substr(h4, 15, 7))::bit(28)::int / 268435456.0::float8 AS u15,
                   (SELECT count(*) FROM tmp_pop) AS ntop
            FROM generate_series(1, 150000) AS i,
                 LATERAL (SELECT md5('purchase:a:' || i) AS h1, md5('purchase:b:' || i) AS h2,
                                 md5('purchase:c:' || i) AS h3, md5('purchase:d:' || i) AS h4) AS h
            OFFSET 0  -- compute each row's md5 slices once
        ) AS u
    ) AS t
) AS t2
JOIN tmp_pop AS p ON p.rank = t2.pop_rank;

CREATE TEMP TABLE tmp_line AS
SELECT p.id AS purchase_id, k AS line_no,
       CASE WHEN k = 1 THEN p.first_listing ELSE vl.ids[j] END AS listing_id,
       CASE WHEN q < 0.82 THEN 1 WHEN q < 0.95 THEN 2 ELSE 3 + floor(q * 100)::int % 4 END AS quantity,
       (CASE WHEN k = 1 THEN p.first_price ELSE vl.prices[j] END
        * CASE WHEN d < 0.08 THEN 0.9 ELSE 1 END)::int AS unit_cents
FROM tmp_purchase AS p
JOIN tmp_vendor_listings AS vl ON vl.vendor_id = p.vendor_id,
     generate_series(1, p.nlines) AS k,
     LATERAL (SELECT md5('line:' || p.id || ':' || k) AS h) AS h,
     LATERAL (SELECT 1 + floor(('x' || substr(h, 1, 7))::bit(28)::int / 268435456.0::float8
                               * cardinality(vl.ids))::int AS j,
                     ('x' || substr(h, 8, 7))::bit(28)::int / 268435456.0::float8 AS q,
                     ('x' || substr(h, 15, 7))::bit(28)::int / 268435456.0::float8 AS d
              OFFSET 0) AS r;

INSERT INTO purchases (id, shopper_id, vendor_id, status, total_cents, coupon_code, placed_at,
                       paid_at, shipped_at)
OVERRIDING SYSTEM VALUE
SELECT p.id, p.shopper_id, p.vendor_id, p.status,
       -- lines, less a coupon's 10%, plus 4.95 shipping under 50.00
       (s.goods * CASE WHEN coupon IS NOT NULL THEN 0.9 ELSE 1 END
        + CASE WHEN s.goods < 5000 THEN 495 ELSE 0 END)::int,
       coupon, p.placed_at, paid.paid_at,
       CASE WHEN paid.paid_at IS NOT NULL
                 AND p.u13 < CASE WHEN p.status = 'refunded' THEN 0.6 ELSE 0.96 END
                 AND paid.paid_at + (14400 + 432000 * power(p.u14, 2)) * interval '1 second'
                     < timestamp '2025-07-01 00:00:00'
            THEN paid.paid_at + (14400 + 432000 * power(p.u14, 2)) * interval '1 second' END
FROM tmp_purchase AS p
JOIN (SELECT purchase_id, sum(quantity * unit_cents) AS goods
      FROM tmp_line GROUP BY purchase_id) AS s ON s.purchase_id = p.id,
LATERAL (SELECT CASE WHEN p.u10 < 0.88 THEN NULL
                     WHEN p.u11 < 0.08 THEN 'REF-' || upper(substr(md5('ref:' || p.shopper_id), 1, 6))
                     ELSE (ARRAY['WELCOME10', 'WELCOME10', 'WELCOME10', 'FREESHIP', 'FREESHIP',
                                 'SPRING24', 'SUMMER24', 'BF2024', 'BF2024', 'XMAS24', 'NEWYEAR25',
                                 'SPRING25', 'SUMMER25', 'VIP15', 'COMEBACK', 'STUDENT10',
                                 'NEWSLETTER', 'APP5', 'BUNDLE20', 'LOYAL10'])[1 + floor(p.u15 * 20)::int]
                END AS coupon) AS c,
LATERAL (SELECT CASE WHEN p.status IN ('paid', 'refunded')
                     THEN p.placed_at
                          + least(30 + 172800 * power(p.u12, 8),
                                  extract(epoch FROM timestamp '2025-07-01 00:00:00' - p.placed_at)::float8
                                  * p.u12) * interval '1 second' END AS paid_at) AS paid
ORDER BY p.id;

INSERT INTO purchase_lines (purchase_id, line_no, listing_id, quantity, unit_cents)
SELECT purchase_id, line_no, listing_id, quantity, unit_cents
FROM tmp_line ORDER BY purchase_id, line_no;

-- ---------------------------------------------------------------------------
-- listing_reviews: 60,000, on popular listings after they were published
-- ---------------------------------------------------------------------------
INSERT INTO listing_reviews (id, listing_id, shopper_id, rating, headline, body, moderation,
                             created_at)
OVERRIDING SYSTEM VALUE
SELECT row_number() OVER (ORDER BY created_e, i),
       listing_id,
       greatest(1, 1 + floor(least(100000, 100000 * power((created_e - 1577836800) / 173491200, 1 / 0.6))
                             * power(u5, 1.2))::int),
       rating,
       CASE WHEN u6 < 0.2 THEN NULL
            WHEN rating >= 4 THEN (ARRAY['Love it!', 'Exactly as described', 'Great quality',
                                         'Perfect gift', 'Beautiful', 'Five stars', 'So happy with this',
                                         'Fast shipping, great product', 'Better than expected',
                                         'Would buy again', 'Gorgeous colour', 'Fits perfectly',
                                         'Super cute', 'Excellent seller', 'Very good value',
                                         'Lovely packaging', 'My new favourite', 'Highly recommend',
                                         'Solid and well made', 'Gets lots of compliments'])[1 + floor(u7 * 20)::int]
            WHEN rating = 3 THEN (ARRAY['It''s okay', 'Decent for the price', 'Smaller than expected',
                                        'Nice but slow shipping', 'Colour a bit off', 'Average',
                                        'Does the job', 'Mixed feelings'])[1 + floor(u7 * 8)::int]
            ELSE (ARRAY['Disappointed', 'Not as pictured', 'Broke after a week', 'Arrived damaged',
                        'Poor quality', 'Wrong size sent', 'Never again', 'Waste of money',
                        'Stopped working', 'Took a month to arrive', 'Cheap material',
                        'Returned it'])[1 + floor(u7 * 12)::int] END,
       CASE WHEN u8 < 0.35 THEN NULL
            ELSE concat_ws(' ',
                CASE WHEN rating >= 4
                     THEN (ARRAY['Really pleased with this purchase.', 'The quality is excellent.',
                                 'Bought it as a gift and they loved it.', 'Arrived quickly and well packed.',
                                 'Looks even better in person.', 'The seller was very helpful.',
                                 'Great value for money.', 'I use it every day.'])[1 + floor(u9 * 8)::int]
                     WHEN rating = 3
                     THEN (ARRAY['It is fine, nothing special.', 'Quality is okay for the price.',
                                 'Took longer than expected to arrive.', 'A bit smaller than I thought.'])[1 + floor(u9 * 4)::int]
                     ELSE (ARRAY['Very disappointed with the quality.', 'It arrived damaged and the seller did not reply.',
                                 'Nothing like the photos.', 'Stopped working after a few days.',
                                 'I asked for a refund.'])[1 + floor(u9 * 5)::int] END,
                CASE WHEN u10 < 0.6
                     THEN (ARRAY['The colour is true to the photos.', 'Sizing runs a little small.',
                                 'Sizing is accurate.', 'Packaging was plastic-free, nice touch.',
                                 'Shipping took about a week.', 'Would order from this shop again.',
                                 'The material feels sturdy.', 'Smells amazing.', 'Battery life is great.',
                                 'Sound quality is better than expected.', 'Washed it twice, no shrinking.',
                                 'My kids love it.', 'Works with my phone without problems.',
                                 'Came with a handwritten note.', 'Printed colours are vivid.',
                                 'Slightly different shade than on screen.'])[1 + floor(u10 / 0.6 * 16)::int] END)
       END,
       CASE WHEN created_e >= 1751068800 THEN CASE WHEN u11 < 0.6 THEN 'pending' ELSE 'approved' END
            WHEN u11 < 0.90 THEN 'approved' WHEN u11 < 0.96 THEN 'rejected'
            WHEN u11 < 0.99 THEN 'flagged' ELSE 'pending' END,
       to_timestamp(created_e)
FROM (
    SELECT i, p.listing_id, u5, u6, u7, u8, u9, u10, u11,
           CASE WHEN u2 < 0.55 THEN 5 WHEN u2 < 0.77 THEN 4 WHEN u2 < 0.86 THEN 3
                WHEN u2 < 0.91 THEN 2 ELSE 1 END AS rating,
           greatest(extract(epoch FROM p.published_at)::float8, 1609459200)
           + (1751327999 - greatest(extract(epoch FROM p.published_at)::float8, 1609459200))
             * power(u3, 0.7) AS created_e
    FROM (
        SELECT i,
               ('x' || substr(h1, 1, 7))::bit(28)::int / 268435456.0::float8 AS u1,
               ('x' || substr(h1, 8, 7))::bit(28)::int / 268435456.0::float8 AS u2,
               ('x' || substr(h1, 15, 7))::bit(28)::int / 268435456.0::float8 AS u3,
               ('x' || substr(h1, 22, 7))::bit(28)::int / 268435456.0::float8 AS u5,
               ('x' || substr(h2, 1, 7))::bit(28)::int / 268435456.0::float8 AS u6,
               ('x' || substr(h2, 8, 7))::bit(28)::int / 268435456.0::float8 AS u7,
               ('x' || substr(h2, 15, 7))::bit(28)::int / 268435456.0::float8 AS u8,
               ('x' || substr(h2, 22, 7))::bit(28)::int / 268435456.0::float8 AS u9,
               ('x' || substr(h3, 1, 7))::bit(28)::int / 268435456.0::float8 AS u10,
               ('x' || substr(h3, 8, 7))::bit(28)::int / 268435456.0::float8 AS u11,
               (SELECT count(*) FROM tmp_pop) AS ntop
        FROM generate_series(1, 60000) AS i,
             LATERAL (SELECT md5('review:a:' || i) AS h1, md5('review:b:' || i) AS h2,
                             md5('review:c:' || i) AS h3) AS h
        OFFSET 0  -- compute each row's md5 slices once
    ) AS u
    JOIN tmp_pop AS p ON p.rank = 1 + floor(u.ntop * power(u.u1, 2.2))::int
) AS r
ORDER BY 1;

-- ---------------------------------------------------------------------------
-- wishlist_items: ~123,000 distinct (shopper, listing) saves since 2022
-- ---------------------------------------------------------------------------
INSERT INTO wishlist_items (shopper_id, listing_id, added_at)
SELECT shopper_id, listing_id, min(added_at)
FROM (
    SELECT listing_id,
           greatest(1, 1 + floor(least(100000, 100000 * power((added_e - 1577836800) / 173491200, 1 / 0.6))
                                 * power(u3, 1.3))::int) AS shopper_id,
           to_timestamp(added_e) AS added_at
    FROM (
        SELECT u.u3, p.listing_id,
               -- saved at t, or some time after publication for listings published later
               CASE WHEN t >= extract(epoch FROM p.published_at)::float8 THEN t
                    ELSE extract(epoch FROM p.published_at)::float8
                         + (1751327999 - extract(epoch FROM p.published_at)::float8) * u.u4 END AS added_e
        FROM (
            SELECT i,
                   ('x' || substr(h1, 1, 7))::bit(28)::int / 268435456.0::float8 AS u1,
                   ('x' || substr(h1, 8, 7))::bit(28)::int / 268435456.0::float8 AS u2,
                   ('x' || substr(h1, 15, 7))::bit(28)::int / 268435456.0::float8 AS u3,
                   ('x' || substr(h1, 22, 7))::bit(28)::int / 268435456.0::float8 AS u4,
                   1640995200 + 110332799 * power((i - ('x' || substr(h1, 8, 7))::bit(28)::int / 268435456.0::float8)
                                                  / 125000.0, 0.75) AS t,
                   (SELECT count(*) FROM tmp_pop) AS ntop
            FROM generate_series(1, 125000) AS i,
                 LATERAL (SELECT md5('wish:' || i) AS h1) AS h
            OFFSET 0  -- compute each row's md5 slices once
        ) AS u
        JOIN tmp_pop AS p ON p.rank = 1 + floor(u.ntop * power(u.u1, 1.8))::int
    ) AS w
) AS c
GROUP BY shopper_id, listing_id
ORDER BY 3, 1, 2;

-- ---------------------------------------------------------------------------
-- Identity sequences continue after the explicit ids; drop the helpers.
-- ---------------------------------------------------------------------------
SELECT setval(pg_get_serial_sequence('vendors', 'id'), (SELECT max(id) FROM vendors)),
       setval(pg_get_serial_sequence('listings', 'id'), (SELECT max(id) FROM listings)),
       setval(pg_get_serial_sequence('shoppers', 'id'), (SELECT max(id) FROM shoppers)),
       setval(pg_get_serial_sequence('purchases', 'id'), (SELECT max(id) FROM purchases)),
       setval(pg_get_serial_sequence('listing_reviews', 'id'), (SELECT max(id) FROM listing_reviews));

DROP TABLE tmp_ptype, tmp_grp, tmp_brand, tmp_pop, tmp_vendor_listings, tmp_purchase, tmp_line;

RESET work_mem;

ANALYZE;
